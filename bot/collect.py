"""The collect step: the agent's events go to the sink and are gathered into one answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.actions import logic as actions
from bot.actions.flow import ActionFlow
from bot.actions.record import Asked
from bot.agents import AgentBackend, hints_for
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
from bot.metrics import Metrics
from bot.sink import AnswerSink, ShowsProgress

log = logging.getLogger("bot.conversation")  # logged as the pipeline's, as before

_LOCAL_ROUNDS = 5  # an agent that keeps asking for local results is cut off after this many


@dataclass(slots=True)
class Collected:
    text: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    failure: AgentFailure | None = None
    first_chunk_at: float | None = None
    cost: float = 0.0
    action: ActionRequest | None = None  # the agent paused for a person or a local result
    # What an operator should check, per failure kind: the hints of the backend that answered.
    hints: Mapping[FailureKind, str] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return "".join(self.text)

    def answer(self, text: str) -> Answer:
        """What the answer comes to, `text` being all of it (an earlier part before a pause too)."""
        return Answer(text, tuple(self.sources), self.usage, self.failure)

    def absorb(self, more: Collected) -> None:
        """The next part of one answer (after a local result went back) joins this one."""
        self.text += more.text
        self.sources += [s for s in more.sources if s not in self.sources]
        self.usage += more.usage
        self.cost += more.cost
        self.failure, self.action = more.failure, more.action
        self.hints = more.hints
        self.first_chunk_at = self.first_chunk_at or more.first_chunk_at


@dataclass(frozen=True, slots=True)
class Collector:
    """Runs one agent stream into a sink; stops early on shutdown or when fenced."""

    agent: AgentBackend
    metrics: Metrics
    stopping: asyncio.Event
    actions: ActionFlow | None = None

    async def collect(
        self, request: AgentRequest, sink: AnswerSink, fence: asyncio.Event, asked: Asked
    ) -> Collected:
        """The whole answer: the stream, then the rounds of local results that follow it."""
        return await self._local_results(
            asked, request, sink, await self.stream(request, sink, fence), fence
        )

    async def _local_results(
        self,
        asked: Asked,
        request: AgentRequest,
        sink: AnswerSink,
        collected: Collected,
        fence: asyncio.Event,
    ) -> Collected:
        """Pauses no person answers (results the caller computes) go back at once, a few times."""
        for _ in range(_LOCAL_ROUNDS):
            if collected.action is None or collected.failure or self.actions is None:
                break
            results = await self.actions.local_results(asked, collected.action)
            if results is None:
                break
            request = replace(request, text="", history=(), resume=results)
            collected.absorb(await self.stream(request, sink, fence))
        if collected.action and self.actions and not actions.needs_person(collected.action):
            # Still asking after every round: end visibly rather than loop or show no buttons.
            collected.failure = AgentFailure(FailureKind.UNKNOWN, "too_many_local_results")
        return collected

    async def stream(
        self, request: AgentRequest, sink: AnswerSink, fence: asyncio.Event
    ) -> Collected:
        """Feed the agent's events to the sink until the agent ends, shutdown interrupts, or
        the turn is taken over (`fence`)."""
        collected = Collected(hints=hints_for(self.agent, request))
        consumer = asyncio.create_task(self._consume(request, sink, collected))
        stopping = asyncio.create_task(self.stopping.wait())
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

    async def _consume(self, request: AgentRequest, sink: AnswerSink, into: Collected) -> None:
        try:
            async for event in self.agent.stream(request):
                if isinstance(event, TextDelta):
                    into.first_chunk_at = into.first_chunk_at or time.monotonic()
                    into.text.append(event.text)
                    sink.append(event.text)
                elif isinstance(event, Citations):
                    into.sources.extend(s for s in event.sources if s not in into.sources)
                elif isinstance(event, Usage):
                    into.usage += event
                    into.cost += self.metrics.usage(event)
                elif isinstance(event, AgentFailure):
                    into.failure = event
                elif isinstance(event, ActionRequest):
                    into.action = actions.merge(into.action, event)
                elif isinstance(event, Progress) and isinstance(sink, ShowsProgress):
                    sink.progress(event)
        except Exception as exc:  # a backend bug must still end in a visible, logged answer
            log.exception("agent stream crashed")
            into.failure = AgentFailure(FailureKind.UNKNOWN, type(exc).__name__)
