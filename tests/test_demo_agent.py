"""The built-in demo agent (AGENT_BACKEND=demo): what it streams, asks and answers."""

from __future__ import annotations

from bot.agents import build_backend
from bot.events import (
    ActionRequest,
    ActionResult,
    AgentEvent,
    AgentFailure,
    AgentRequest,
    Citations,
    Progress,
    StepStatus,
    TextDelta,
)
from bot.playground.demo_agent import DemoAgent, DemoPacing
from bot.settings import load_settings

FAST = DemoPacing(seconds=0.02, chunks=10)


def ask(text: str, **attributes: str) -> AgentRequest:
    return AgentRequest(text=text, session_id="s1", session_attributes=attributes, user_id="U1")


async def collect(agent: DemoAgent, request: AgentRequest) -> list[AgentEvent]:
    return [event async for event in agent.stream(request)]


def test_agent_backend_demo_builds_the_demo_agent_without_aws() -> None:
    settings = load_settings(
        slack_bot_token="xoxb-x", slack_signing_secret="s", agent_backend="demo"
    )
    assert isinstance(build_backend(settings), DemoAgent)


async def test_any_question_streams_sentences_with_one_numbered_source_and_a_step() -> None:
    events = await collect(DemoAgent(pacing=FAST), ask("what is our vacation policy?"))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) >= 5, "the answer arrives in pieces, as a stream"
    answer = "".join(texts)
    assert "[1]" in answer and answer.count(".") >= 2
    (citations,) = [e for e in events if isinstance(e, Citations)]
    assert len(citations.sources) == 1
    steps = [e for e in events if isinstance(e, Progress)]
    assert [s.status for s in steps] == [StepStatus.IN_PROGRESS, StepStatus.COMPLETE]
    assert len({s.step_id for s in steps}) == 1


async def test_the_default_pacing_spreads_an_answer_over_about_two_seconds() -> None:
    pacing = DemoPacing()
    assert 1.5 <= pacing.seconds <= 3 and pacing.chunks >= 10


async def test_a_cancel_question_first_asks_to_confirm_cancelling_the_order() -> None:
    events = await collect(DemoAgent(pacing=FAST), ask("please cancel order ORD-12345"))
    assert not [e for e in events if isinstance(e, TextDelta)]
    (paused,) = [e for e in events if isinstance(e, ActionRequest)]
    (action,) = paused.inputs
    assert (action.kind, action.action_group, action.name) == ("function", "orders", "cancel_order")
    assert action.needs_confirmation
    assert [(p.name, p.value) for p in action.parameters] == [("orderId", "ORD-12345")]


async def test_a_resumed_cancel_answers_as_the_person_chose() -> None:
    agent = DemoAgent(pacing=FAST)
    (paused,) = [
        e for e in await collect(agent, ask("cancel my order")) if isinstance(e, ActionRequest)
    ]
    action = paused.inputs[0]
    for confirmed, expected in ((True, "is cancelled"), (False, "Nothing was cancelled")):
        resume = (ActionResult(action, confirmed=confirmed, invocation_id=paused.invocation_id),)
        request = AgentRequest("", "s1", {}, "U1", resume=resume)
        answer = "".join(e.text for e in await collect(agent, request) if isinstance(e, TextDelta))
        assert expected in answer and "ORD-88421" in answer


async def test_an_order_question_uses_the_order_id_slack_passed() -> None:
    events = await collect(
        DemoAgent(pacing=FAST), ask("What is the status of order X?", orderId="ORD-777")
    )
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "ORD-777" in answer


async def test_asking_for_an_error_shows_an_interrupted_answer() -> None:
    events = await collect(DemoAgent(pacing=FAST), ask("show me an error"))
    assert [e for e in events if isinstance(e, TextDelta)]
    assert isinstance(events[-1], AgentFailure)
