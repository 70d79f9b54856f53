"""The one pipeline every surface uses: turn → session → agent stream → Slack → memory.

A turn goes through named steps: dedup → sign of life → lock → session → request → collect →
remember → finish → observe. What the steps decide (request wording, closing text, what is
stored) is the turn policy in bot/turn.py; collecting the agent's stream is bot/collect.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from bot import blocks as slack_blocks
from bot import formatting, turn_logs
from bot import turn as policy
from bot.actions import logic as actions
from bot.actions.flow import ActionFlow
from bot.agents import AgentBackend
from bot.collect import Collected, Collector
from bot.events import AgentFailure, AgentRequest, Answer, FailureKind
from bot.logs import turn_id_var
from bot.memory import Memory, Session
from bot.metrics import Metrics
from bot.sink import AnswerSink as AnswerSink
from bot.sink import ShowsProgress as ShowsProgress
from bot.turn import Turn as Turn
from bot.turn import new_turn_id as new_turn_id

log = logging.getLogger(__name__)

ContextReader = Callable[[], Awaitable[str]]
Watch = contextlib.AbstractAsyncContextManager[asyncio.Event]


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
        self._actions = actions
        # Admission (MAX_ACTIVE_ANSWERS): answers beyond it wait after their sign of life,
        # before the agent is invoked, so no agent stream waits for a worker thread.
        self._admission = asyncio.Semaphore(max_active)
        self._memory = memory
        self._metrics = metrics
        self._stopping = asyncio.Event()
        self._collector = Collector(agent, metrics, self._stopping, actions)
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
        watch: Watch | None = None,
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
        self._enter()
        began = False
        try:
            # A watched turn's claims hold for one lease until its in-flight record exists.
            if not await self._first_delivery(turn, resume, in_progress=watch is not None):
                return None
            fence = asyncio.Event() if watch is None else await watched.enter_async_context(watch)
            if resume is None:
                self._metrics.questions.labels(surface=turn.surface).inc()
            turn_logs.received(turn, resume)
            await sink.begin()  # the sign of life
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
            self._leave()
            turn_id_var.reset(token)

    def _enter(self) -> None:
        self.active += 1
        self.idle.clear()
        self._metrics.active_answers.inc()

    def _leave(self) -> None:
        self.active -= 1
        self._metrics.active_answers.dec()
        if self.active == 0:
            self.idle.set()

    async def _first_delivery(
        self, turn: Turn, resume: actions.Resume | None, *, in_progress: bool
    ) -> bool:
        """Dedup: the event and the message asked are each answered once. One after the other,
        not in one round trip: a duplicate delivery must not claim the message, or it could
        take it from the delivery that claimed the event, and neither would answer."""
        claim = self._memory.claim_event
        if turn.event_id and not await claim(turn.event_id, in_progress=in_progress):
            log.info("duplicate delivery ignored", extra={"event_id": turn.event_id})
            return False
        if (
            resume is None
            and turn.message_key
            and not await claim(f"message:{turn.message_key}", in_progress=in_progress)
        ):
            log.info("message already answered", extra={"event_id": turn.event_id})
            return False
        return True

    async def _end_with_error(self, sink: AnswerSink, reference: str) -> None:
        try:
            await sink.end(suffix=policy.internal_error_text(reference))
        except Exception:
            log.exception("could not show the error either", extra={"reference": reference})

    async def _request(
        self,
        turn: Turn,
        context: ContextReader | None,
        resume: actions.Resume | None,
    ) -> tuple[Session, AgentRequest]:
        """The session and request steps."""
        if resume is not None:  # the paused session, whatever memory says about idleness
            session = Session(resume.session_id, resume.generation, fresh=False, known=True)
            return session, policy.resumed_request(turn, resume.session_id, resume.results)
        session = await self._memory.open_session(turn.conversation, fresh=turn.fresh_session)
        text = turn.text
        if context is not None and not session.known:
            # Joined late: the thread so far goes with this question, and into memory for later.
            transcript = await context()
            if transcript:
                await self._memory.seed_context(turn.conversation, transcript)
                text = policy.late_join_text(transcript, turn.text)
        return session, policy.request_for(turn, session, text)

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
        collected = await self._collector.collect(request, sink, fence, policy.asked(turn))
        if fence.is_set():  # another replica owns this turn now: not one more write from here
            log.warning("turn taken over by another replica: this one stops writing")
            return Answer(collected.shown, failure=collected.failure)
        prior = resume.prior_text if resume is not None else ""
        if collected.action is not None and collected.failure is None:
            return await self._pause(turn, sink, collected, session, prior, started)
        shown = collected.shown
        answer = collected.answer(policy.joined(prior, shown))
        closing = self._closing(replace(answer, text=shown) if prior else answer, collected.hints)
        # Remembered before the answer is shown complete: a reply typed right after it must
        # find this turn, on any replica.
        await self._remember(turn, session, answer, collected, started)
        delivered = await self._finish(turn, sink, answer, closing)
        self._observe(answer, collected, sink, started)
        turn_logs.finished(
            answer,
            cost=collected.cost,
            session=session,
            request=request,
            reference=closing.reference,
            delivered=delivered,
            started=started,
        )
        return answer

    async def _remember(
        self, turn: Turn, session: Session, answer: Answer, collected: Collected, started: float
    ) -> None:
        now = time.time()
        stored = policy.stored_turn(
            turn,
            answer,
            cost=collected.cost,
            asked_at=now - (time.monotonic() - started),
            answered_at=now,
        )
        await self._memory.record_turn(
            turn.conversation,
            stored,
            generation=session.generation,
            session_used=answer.failure is None or bool(answer.text.strip()),
        )

    async def _finish(
        self, turn: Turn, sink: AnswerSink, answer: Answer, closing: policy.Closing
    ) -> bool:
        blocks = None
        if answer.text.strip():
            value = policy.feedback_reference(turn.conversation, turn.turn_id)
            blocks = slack_blocks.closing_blocks(answer=value, alert=closing.alert)
        if isinstance(sink, ShowsProgress):
            sink.close_steps(failed=answer.failure is not None)
        return await sink.end(suffix=closing.suffix, blocks=blocks)

    async def _pause(
        self,
        turn: Turn,
        sink: AnswerSink,
        collected: Collected,
        session: Session,
        prior: str,
        started: float,
    ) -> Answer:
        """The agent waits for a person: the question ends this message; nothing is recorded
        until the answer goes on (a resumed turn records question and whole answer)."""
        assert collected.action is not None
        shown = collected.shown
        text = policy.joined(prior, shown)
        if self._actions is None:
            failure = AgentFailure(FailureKind.UNKNOWN, "action_request_unsupported")
            await sink.end(
                suffix=self._closing(Answer(shown, failure=failure), collected.hints).suffix
            )
            return Answer(text, failure=failure)
        await self._actions.ask(
            policy.asked(turn),
            sink,
            collected.action,
            session_id=session.session_id,
            generation=session.generation,
            shown_text=shown,
            prior_text=text,
        )
        answer = collected.answer(text)  # no failure: a failed answer does not pause
        self._observe(answer, collected, sink, started, outcome="paused")
        return answer

    def _observe(
        self,
        answer: Answer,
        collected: Collected,
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

    def _closing(self, answer: Answer, hints: Mapping[FailureKind, str]) -> policy.Closing:
        """The closing text; a failure is logged with its reference and the operator's fix
        (`hints`: those of the backend that answered)."""
        closing = policy.closing(answer)
        turn_logs.failed(answer, closing, hints)
        return closing
