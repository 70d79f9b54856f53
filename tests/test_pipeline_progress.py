"""The pipeline hands the agent's steps to the thread writer, and closes them with the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import fakeredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation import Pipeline
from bot.events import (
    AgentEvent,
    AgentFailure,
    AgentRequest,
    FailureKind,
    Progress,
    StepStatus,
    TextDelta,
)
from bot.memory import Memory
from bot.metrics import Metrics
from bot.settings import StreamingMode
from bot.slack_budget import WriteBudget
from tests.answers import answer_writer
from tests.fakes.slack import FakeSlack
from tests.harness import question_turn


class ScriptedAgent:
    """An agent backend that yields the given events (the real ones turn traces into steps)."""

    def __init__(self, events: Sequence[AgentEvent]) -> None:
        self._events = events

    async def stream(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        for event in self._events:
            yield event

    async def aclose(self) -> None:
        return None


async def answer(slack: FakeSlack, events: Sequence[AgentEvent]) -> str:
    memory = Memory(
        fakeredis.FakeAsyncRedis(),
        prefix="test:progress:",
        idle_seconds=3600,
        max_turns=20,
        ttl_seconds=3600,
    )
    pipeline = Pipeline(agent=ScriptedAgent(events), memory=memory, metrics=Metrics())
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    sink, thread = answer_writer(
        client, "C0PIPE", mode=StreamingMode.NATIVE, budget=WriteBudget(base_interval=0.01)
    )
    turn = question_turn("what is the refund policy?", channel="C0PIPE", thread_ts=thread)
    await pipeline.handle(turn, sink)
    return thread


async def test_agent_steps_reach_the_thread_as_task_updates_and_end_complete(
    slack: FakeSlack,
) -> None:
    events: list[AgentEvent] = [
        Progress("kb", "Searching the knowledge base", StepStatus.IN_PROGRESS),
        TextDelta("Refunds take "),
        Progress("kb", "Searching the knowledge base", StepStatus.COMPLETE),
        Progress("act", "Checking your order", StepStatus.IN_PROGRESS),
        TextDelta("5 days."),
    ]
    thread = await answer(slack, events)

    [message] = slack.thread("C0PIPE", thread)
    assert message.visible.startswith("Refunds take 5 days.")
    assert [(t["id"], t["status"]) for t in message.tasks] == [
        ("kb", "complete"),
        ("act", "complete"),
    ]


async def test_a_step_open_when_the_agent_fails_is_marked_error(slack: FakeSlack) -> None:
    events: list[AgentEvent] = [
        Progress("act", "Checking your order", StepStatus.IN_PROGRESS),
        TextDelta("Let me check"),
        AgentFailure(FailureKind.INTERRUPTED, "dropped"),
    ]
    thread = await answer(slack, events)

    [message] = slack.thread("C0PIPE", thread)
    assert [t["status"] for t in message.tasks] == ["error"]
    assert "interrupted" in message.visible.lower()
