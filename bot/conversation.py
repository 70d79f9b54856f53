"""The one pipeline every surface uses: turn → session → agent stream → Slack → memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from bot import blocks as slack_blocks
from bot import formatting
from bot.actions import logic as actions
from bot.actions.flow import ActionFlow, Asked
from bot.agents import AgentBackend
from bot.events import (
    ActionRequest,
    AgentFailure,
    AgentRequest,
    Answer,
    Citations,
    FailureKind,
    Progress,
    Source,
    TextDelta,
    Usage,
)
from bot.history import StoredTurn, replay_messages
from bot.logs import turn_id_var
from bot.memory import Memory, Session
from bot.metrics import Metrics

log = logging.getLogger(__name__)

ContextReader = Callable[[], Awaitable[str]]

# What an operator should check, per failure kind (logged, never shown to users).
_OPERATOR_HINTS = {
    FailureKind.MISCONFIGURED: (
        "check BEDROCK_AGENT_ID / BEDROCK_AGENT_ALIAS_ID (or AGENTCORE_RUNTIME_ARN, "
        "AGENTCORE_HARNESS_ARN), AWS_REGION, and that the bot's AWS credentials allow "
        "bedrock:InvokeAgent on that alias (bedrock-agentcore:InvokeAgentRuntime and "
        "bedrock-agentcore:InvokeAgentRuntimeForUser on that runtime; for a harness also "
        "bedrock-agentcore:InvokeHarness; bedrock:RetrieveAndGenerate for DM_KNOWLEDGE_BASE_ID)"
    ),
    FailureKind.THROTTLED: "raise the agent's model quota or slow the traffic down",
    FailureKind.INVALID_INPUT: "the agent rejected the request (input too long or malformed)",
}


def new_turn_id() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class Turn:
    """One question from Slack, already stripped of mentions and checked by its handler."""

    surface: str
    team_id: str
    channel_id: str
    user_id: str
    text: str
    conversation: str
    event_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    empty_hint: str = formatting.EMPTY_QUESTION_HINT  # the reply when `text` is empty
    turn_id: str = field(default_factory=new_turn_id)
    # The Slack message asked (team:channel:ts), claimed beside the event id: a redelivery
    # under another envelope (or app_mention + message for one message) is answered once.
    message_key: str | None = None
    fresh_session: bool = False  # a turn taken over from a dead replica (bot/takeover.py)

    def session_attributes(self) -> dict[str, str]:
        # Action groups authorise on these; they come from Slack's payload, never from the text.
        return {
            "slackTeamId": self.team_id,
            "slackChannelId": self.channel_id,
            "slackUserId": self.user_id,
            **self.attributes,
        }


class AnswerSink(Protocol):
    """Where an answer is shown (a streamed thread reply, an ephemeral response, …)."""

    async def begin(self) -> None: ...

    def append(self, text: str) -> None: ...

    async def end(
        self, *, suffix: str = "", blocks: list[dict[str, Any]] | None = None
    ) -> bool: ...

    @property
    def ended(self) -> bool: ...

    @property
    def first_visible_at(self) -> float | None: ...


@runtime_checkable
class ShowsProgress(Protocol):
    """A sink that can show the agent's steps beside the answer (the Slack thread writer)."""

    def progress(self, step: Progress) -> None: ...

    def close_steps(self, *, failed: bool) -> None: ...


@dataclass(slots=True)
class _Collected:
    text: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    failure: AgentFailure | None = None
    first_chunk_at: float | None = None
    cost: float = 0.0
    action: ActionRequest | None = None  # the agent paused for a person or a local result

    def absorb(self, more: _Collected) -> None:
        """The next part of one answer (after a local result went back) joins this one."""
        self.text += more.text
        self.sources += [s for s in more.sources if s not in self.sources]
        self.usage += more.usage
        self.cost += more.cost
        self.failure, self.action = more.failure, more.action
        self.first_chunk_at = self.first_chunk_at or more.first_chunk_at


class Pipeline:
    """Answers turns. Owns ordering (one at a time per conversation) and what gets remembered."""

    def __init__(
        self,
        *,
        agent: AgentBackend,
        memory: Memory,
        metrics: Metrics,
        actions: ActionFlow | None = None,
        max_active: int = 256,
    ) -> None:
        self._agent = agent
        self._actions = actions
        # Admission (MAX_ACTIVE_ANSWERS): answers beyond it wait after their sign of life,
        # before the agent is invoked, so no agent stream waits for a worker thread.
        self._admission = asyncio.Semaphore(max_active)
        self._memory = memory
        self._metrics = metrics
        self._stopping = asyncio.Event()
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def interrupt(self) -> None:
        """Shutting down: every answer still streaming ends now, marked as interrupted."""
        self._stopping.set()

    async def handle(
        self,
        turn: Turn,
        sink: AnswerSink,
        *,
        context: ContextReader | None = None,
        resume: actions.Resume | None = None,
        watch: contextlib.AbstractAsyncContextManager[asyncio.Event] | None = None,
    ) -> Answer | None:
        """Answer `turn` into `sink` unless it is a duplicate delivery; never raises.

        `context` reads what was said before the bot joined; called only when it has no memory.
        `resume`: the turn goes on after the agent paused (a person answered Confirm / Cancel).
        `watch` is entered once the turn is known not to be a duplicate and left after its
        final write (crash takeover keeps its durable record there); the event it gives is set
        when another replica has taken the turn over: this one then stops writing (fencing).
        """
        token = turn_id_var.set(turn.turn_id)
        watched = contextlib.AsyncExitStack()
        self.active += 1
        self.idle.clear()
        self._metrics.active_answers.inc()
        began = False
        try:
            # A watched turn's claims hold for one lease until its in-flight record exists.
            in_progress = watch is not None
            if turn.event_id and not await self._memory.claim_event(
                turn.event_id, in_progress=in_progress
            ):
                log.info("duplicate delivery ignored", extra={"event_id": turn.event_id})
                return None
            if (
                resume is None
                and turn.message_key
                and not await self._memory.claim_event(
                    f"message:{turn.message_key}", in_progress=in_progress
                )
            ):
                log.info("message already answered", extra={"event_id": turn.event_id})
                return None
            fence = asyncio.Event() if watch is None else await watched.enter_async_context(watch)
            if resume is None:
                self._metrics.questions.labels(surface=turn.surface).inc()
            log.info(
                "question received" if resume is None else "resuming a paused answer",
                extra={
                    "surface": turn.surface,
                    "conversation": turn.conversation,
                    "chars": len(turn.text),
                    **({"invocation_id": resume.invocation_id} if resume else {}),
                },
            )
            await sink.begin()
            began = True
            if not turn.text.strip():
                await sink.end(suffix=turn.empty_hint)
                return None
            async with self._memory.turn_lock(turn.conversation), self._admission:
                return await self._answer(turn, sink, context, resume, fence)
        except Exception:
            reference = formatting.new_reference()
            log.exception("turn failed", extra={"reference": reference})
            if began and not sink.ended:
                await self._end_with_error(sink, reference)
            return None
        finally:
            await watched.aclose()
            self.active -= 1
            self._metrics.active_answers.dec()
            if self.active == 0:
                self.idle.set()
            turn_id_var.reset(token)

    async def _end_with_error(self, sink: AnswerSink, reference: str) -> None:
        failure = AgentFailure(FailureKind.UNKNOWN, "internal")
        try:
            await sink.end(
                suffix=formatting.failure_text(failure, reference=reference, partial=False)
            )
        except Exception:
            log.exception("could not show the error either", extra={"reference": reference})

    async def _request(
        self, turn: Turn, context: ContextReader | None, resume: actions.Resume | None
    ) -> tuple[Session, AgentRequest]:
        if resume is not None:  # the paused session, whatever memory says about idleness
            session = Session(resume.session_id, resume.generation, fresh=False, known=True)
            return session, AgentRequest(
                text="",
                session_id=resume.session_id,
                session_attributes=turn.session_attributes(),
                user_id=turn.user_id,
                resume=resume.results,
            )
        session = await self._memory.open_session(turn.conversation, fresh=turn.fresh_session)
        text = turn.text
        if context is not None and not session.known:
            # Joined late: the thread so far goes with this question, and into memory for later.
            transcript = await context()
            if transcript:
                await self._memory.seed_context(turn.conversation, transcript)
                text = f"{transcript}\n\nNow I am asked:\n{turn.text}"
        return session, AgentRequest(
            text=text,
            session_id=session.session_id,
            session_attributes=turn.session_attributes(),
            user_id=turn.user_id,
            history=replay_messages(session.history) if session.fresh else (),
            conversation=turn.conversation,
            surface=turn.surface,
        )

    async def _answer(
        self,
        turn: Turn,
        sink: AnswerSink,
        context: ContextReader | None,
        resume: actions.Resume | None,
        fence: asyncio.Event,
    ) -> Answer:
        started = time.monotonic()
        session, request = await self._request(turn, context, resume)
        collected = await self._stream(request, sink, fence)
        collected = await self._local_results(turn, request, sink, collected, fence)
        if fence.is_set():  # another replica owns this turn now: not one more write from here
            log.warning("turn taken over by another replica: this one stops writing")
            return Answer("".join(collected.text), failure=collected.failure)
        prior = resume.prior_text if resume is not None else ""
        if collected.action is not None and collected.failure is None:
            return await self._pause(turn, sink, collected, session, prior, started)
        shown = "".join(collected.text)
        answer = Answer(
            _joined(prior, shown), tuple(collected.sources), collected.usage, collected.failure
        )
        closing = replace(answer, text=shown) if prior else answer
        suffix, reference, alert = self._closing_text(closing)
        blocks = None
        if answer.text.strip():
            value = json.dumps({"c": turn.conversation, "t": turn.turn_id}, separators=(",", ":"))
            blocks = slack_blocks.closing_blocks(answer=value, alert=alert)
        # Remembered before the answer is shown complete: a reply typed right after it must
        # find this turn, on any replica.
        await self._memory.record_turn(
            turn.conversation,
            StoredTurn(
                question=turn.text,
                answer=answer.text,
                interrupted=answer.interrupted,
                input_tokens=answer.usage.input_tokens,
                output_tokens=answer.usage.output_tokens,
                cost_usd=round(collected.cost, 6),
                user_id=turn.user_id,
                asked_at=time.time() - (time.monotonic() - started),
                answered_at=time.time(),
                turn_id=turn.turn_id,
            ),
            generation=session.generation,
            session_used=answer.failure is None or bool(answer.text.strip()),
        )
        if isinstance(sink, ShowsProgress):
            sink.close_steps(failed=answer.failure is not None)
        delivered = await sink.end(suffix=suffix, blocks=blocks)
        self._observe(answer, collected, sink, started)
        outcome = answer.failure.kind.value if answer.failure else "ok"
        log.info(
            "answer finished",
            extra={
                "outcome": outcome,
                "reference": reference,
                "delivered": delivered,
                "session_id": session.session_id,
                "fresh_session": session.fresh,
                "replayed_messages": len(request.history),
                "answer_chars": len(answer.text),
                "input_tokens": answer.usage.input_tokens,
                "output_tokens": answer.usage.output_tokens,
                "cost_usd": round(collected.cost, 6),
                "duration_ms": round((time.monotonic() - started) * 1000),
            },
        )
        return answer

    async def _local_results(
        self,
        turn: Turn,
        request: AgentRequest,
        sink: AnswerSink,
        collected: _Collected,
        fence: asyncio.Event,
    ) -> _Collected:
        """Pauses no person answers (results the caller computes) go back at once, a few times."""
        for _ in range(_LOCAL_ROUNDS):
            if collected.action is None or collected.failure or self._actions is None:
                break
            results = await self._actions.local_results(_asked(turn), collected.action)
            if results is None:
                break
            request = replace(request, text="", history=(), resume=results)
            collected.absorb(await self._stream(request, sink, fence))
        if collected.action and self._actions and not actions.needs_person(collected.action):
            # Still asking after every round: end visibly rather than loop or show no buttons.
            collected.failure = AgentFailure(FailureKind.UNKNOWN, "too_many_local_results")
        return collected

    async def _pause(
        self,
        turn: Turn,
        sink: AnswerSink,
        collected: _Collected,
        session: Session,
        prior: str,
        started: float,
    ) -> Answer:
        """The agent waits for a person: the question ends this message; nothing is recorded
        until the answer goes on (a resumed turn records question and whole answer)."""
        assert collected.action is not None
        shown = "".join(collected.text)
        text = _joined(prior, shown)
        if self._actions is None:
            failure = AgentFailure(FailureKind.UNKNOWN, "action_request_unsupported")
            suffix, _, _ = self._closing_text(Answer(shown, failure=failure))
            await sink.end(suffix=suffix)
            return Answer(text, failure=failure)
        await self._actions.ask(
            _asked(turn),
            sink,
            collected.action,
            session_id=session.session_id,
            generation=session.generation,
            shown_text=shown,
            prior_text=text,
        )
        answer = Answer(text, tuple(collected.sources), collected.usage)
        self._observe(answer, collected, sink, started, outcome="paused")
        return answer

    async def _stream(
        self, request: AgentRequest, sink: AnswerSink, fence: asyncio.Event
    ) -> _Collected:
        """Feed the agent's events to the sink until the agent ends, shutdown interrupts, or
        the turn is taken over (`fence`)."""
        collected = _Collected()
        consumer = asyncio.create_task(self._consume(request, sink, collected))
        stopping = asyncio.create_task(self._stopping.wait())
        fenced = asyncio.create_task(fence.wait())
        try:
            await asyncio.wait({consumer, stopping, fenced}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            fenced.cancel()
        if not consumer.done():
            consumer.cancel()  # closes the agent stream; the worker thread ends with it
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            collected.failure = AgentFailure(FailureKind.INTERRUPTED, "shutdown")
        return collected

    async def _consume(self, request: AgentRequest, sink: AnswerSink, into: _Collected) -> None:
        try:
            async for event in self._agent.stream(request):
                if isinstance(event, TextDelta):
                    into.first_chunk_at = into.first_chunk_at or time.monotonic()
                    into.text.append(event.text)
                    sink.append(event.text)
                elif isinstance(event, Citations):
                    into.sources.extend(s for s in event.sources if s not in into.sources)
                elif isinstance(event, Usage):
                    into.usage += event
                    into.cost += self._metrics.usage(event)
                elif isinstance(event, AgentFailure):
                    into.failure = event
                elif isinstance(event, ActionRequest):
                    into.action = actions.merge(into.action, event)
                elif isinstance(event, Progress) and isinstance(sink, ShowsProgress):
                    sink.progress(event)
        except Exception as exc:  # a backend bug must still end in a visible, logged answer
            log.exception("agent stream crashed")
            into.failure = AgentFailure(FailureKind.UNKNOWN, type(exc).__name__)

    def _observe(
        self,
        answer: Answer,
        collected: _Collected,
        sink: AnswerSink,
        started: float,
        outcome: str = "",
    ) -> None:
        outcome = outcome or (answer.failure.kind.value if answer.failure else "ok")
        self._metrics.answers.labels(outcome=outcome).inc()
        self._metrics.answer_time.observe(time.monotonic() - started)
        if collected.first_chunk_at is not None and sink.first_visible_at is not None:
            self._metrics.first_text.observe(
                max(0.0, sink.first_visible_at - collected.first_chunk_at)
            )

    def _closing_text(self, answer: Answer) -> tuple[str, str | None, str | None]:
        """What goes under the streamed text: sources, or an error note with a reference.

        A partial answer's note is returned apart, for an alert block under the text; an
        answer that failed before any text is the note itself.
        """
        parts: list[str] = []
        reference: str | None = None
        alert: str | None = None
        if answer.failure is not None:
            reference = formatting.new_reference()
            partial = bool(answer.text.strip())
            note = formatting.failure_text(answer.failure, reference=reference, partial=partial)
            if partial:
                alert = note
            else:
                parts.append(note)
            log.warning(
                "agent failed",
                extra={
                    "reference": reference,
                    "kind": answer.failure.kind.value,
                    "code": answer.failure.code,
                    "detail": answer.failure.detail,
                    "partial": partial,
                    "fix": _OPERATOR_HINTS.get(answer.failure.kind, ""),
                },
            )
        elif not answer.text.strip():
            parts.append(formatting.EMPTY_ANSWER_TEXT)
        if answer.sources:
            parts.append(formatting.sources_markdown(answer.sources))
        separator = "\n\n" if answer.text.strip() else ""
        return (separator + "\n\n".join(parts) if parts else ""), reference, alert


_LOCAL_ROUNDS = 5  # an agent that keeps asking for local results is cut off after this many


def _asked(turn: Turn) -> Asked:
    return Asked(
        conversation=turn.conversation,
        asker=turn.user_id,
        team_id=turn.team_id,
        channel_id=turn.channel_id,
        surface=turn.surface,
        turn_id=turn.turn_id,
        question=turn.text,
        attributes=dict(turn.attributes),
    )


def _joined(prior: str, text: str) -> str:
    return f"{prior}\n\n{text}" if prior.strip() and text.strip() else prior + text
