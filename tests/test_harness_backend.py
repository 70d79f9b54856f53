"""Harness backend: the InvokeHarness request, then real boto3 reading FakeHarness's frames."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot import events as ev
from bot.agents.agentcore import runtime_session_id as rsid
from bot.agents.base import RetryPolicy
from bot.agents.harness import HarnessBackend, build_messages
from tests.fakes.bedrock import RaiseInStream, Script, Text, Trace
from tests.fakes.harness import FakeHarness, Hook, Stop, Tokens, ToolUse
from tests.harness import HARNESS_ARN
from tests.servers import collect, server_and_client

ATTRIBUTES = {"slackTeamId": "T1", "slackChannelId": "C1", "slackUserId": "U1"}
SESSION = "T1:C1:1700000000.000100:g2"
HISTORY = (ev.HistoryMessage("user", "hi"), ev.HistoryMessage("assistant", "hello"))


def request(text: str = "hello", **overrides: Any) -> ev.AgentRequest:
    fields = {"session_id": SESSION, "session_attributes": ATTRIBUTES, "user_id": "U1"}
    return ev.AgentRequest(**{"text": text, **fields, **overrides})


def backend(client: Any, *, qualifier: str | None = None, preamble: bool = False) -> HarnessBackend:
    return HarnessBackend(
        client=client,
        harness_arn=HARNESS_ARN,
        qualifier=qualifier,
        replay_as_preamble=preamble,
        executor=ThreadPoolExecutor(max_workers=2),
        idle_timeout=5.0,
        retry=RetryPolicy(attempts=1),
    )


fake, client = server_and_client(FakeHarness, "bedrock-agentcore")


def text_of(events: list[ev.AgentEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.TextDelta))


def test_request_names_the_harness_session_and_team_qualified_user() -> None:
    params = backend(None, qualifier="prod").build_params(request("what's new?", history=HISTORY))
    assert params == {
        "harnessArn": HARNESS_ARN,
        "qualifier": "prod",
        "runtimeSessionId": rsid(SESSION),
        # Slack user ids are unique per workspace only: Memory actors must not collide.
        "runtimeUserId": "slack:T1:U1",
        "actorId": "slack:T1:U1",
        "baggage": "slackTeamId=T1,slackChannelId=C1,slackUserId=U1",
        "messages": [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "hello"}]},
            {"role": "user", "content": [{"text": "what's new?"}]},
        ],
    }
    bare = backend(None).build_params(request(user_id=""))
    assert "qualifier" not in bare and "runtimeUserId" not in bare and "actorId" not in bare


def test_history_keeps_roles_alternating_and_can_be_a_preamble() -> None:
    history = (
        ev.HistoryMessage("assistant", "seeded"),  # a conversation starts with the user
        ev.HistoryMessage("user", "one"),
        ev.HistoryMessage("assistant", ""),  # an answer that never came
        ev.HistoryMessage("user", "two"),
    )
    messages = build_messages(request("three", history=history), preamble=False)
    assert messages == [
        {"role": "user", "content": [{"text": "one"}, {"text": "two"}, {"text": "three"}]}
    ]
    [only] = build_messages(request("three", history=HISTORY), preamble=True)
    assert only["content"][0]["text"].startswith("Earlier in this conversation:\nUser: hi\n")
    assert only["content"][0]["text"].endswith("three")


async def test_answer_text_comes_only_from_the_assistant_never_from_reasoning_or_tools(
    fake: FakeHarness, client: Any
) -> None:
    fake.enqueue(
        Script(
            [
                Trace(None),  # reasoningContent
                Text("Let me check. "),
                ToolUse("search_docs", {"q": "vacation"}, server="handbook", result="25 days"),
                Text("You get 25 days."),
            ]
        )
    )
    events = await collect(backend(client), request())

    assert text_of(events) == "Let me check. You get 25 days."
    steps = [e for e in events if isinstance(e, ev.Progress)]
    assert [(s.title, s.status) for s in steps] == [
        ("handbook: search_docs", ev.StepStatus.IN_PROGRESS),
        ("handbook: search_docs", ev.StepStatus.COMPLETE),
    ]
    assert steps[0].step_id == steps[1].step_id
    assert not [e for e in events if isinstance(e, ev.AgentFailure | ev.ActionRequest)]


async def test_usage_counts_cache_tokens_apart_per_model_call(
    fake: FakeHarness, client: Any
) -> None:
    fake.enqueue(
        Script([Tokens(120, 30, cache_read=900, cache_write=50), Text("ok"), Tokens(10, 5)])
    )
    events = await collect(backend(client), request())

    usages = [e for e in events if isinstance(e, ev.Usage)]
    assert usages == [
        ev.Usage(120, 30, cache_read_tokens=900, cache_write_tokens=50),
        ev.Usage(10, 5),
    ]
    total = usages[0] + usages[1]
    assert (total.input_tokens, total.output_tokens, total.cache_read_tokens) == (130, 35, 900)


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("max_tokens", ev.FailureKind.INTERRUPTED),
        ("content_filtered", ev.FailureKind.INVALID_INPUT),
        ("timeout_exceeded", ev.FailureKind.TIMEOUT),
        ("model_context_window_exceeded", ev.FailureKind.INVALID_INPUT),
        ("hook_stopped", ev.FailureKind.INVALID_INPUT),
    ],
)
async def test_a_stop_reason_that_is_not_the_end_of_a_turn_ends_the_answer_as_a_failure(
    fake: FakeHarness, client: Any, reason: str, kind: ev.FailureKind
) -> None:
    fake.enqueue(Script([Text("Partial answer"), Stop(reason)]))
    events = await collect(backend(client), request())

    assert text_of(events) == "Partial answer"
    assert events[-1] == ev.AgentFailure(kind, reason)


@pytest.mark.parametrize("reason", ["end_turn", "stop_sequence"])
async def test_a_finished_turn_is_no_failure(fake: FakeHarness, client: Any, reason: str) -> None:
    fake.enqueue(Script([Text("Done."), Stop(reason)]))
    events = await collect(backend(client), request())
    assert events == [ev.TextDelta("Done.")]


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        ("validationException", ev.FailureKind.INVALID_INPUT),
        ("internalServerException", ev.FailureKind.UNAVAILABLE),
        ("runtimeClientError", ev.FailureKind.UNAVAILABLE),
    ],
)
async def test_in_stream_exceptions_map_to_the_failure_kinds_of_the_other_backends(
    fake: FakeHarness, client: Any, exception: str, kind: ev.FailureKind
) -> None:
    fake.enqueue(Script([Text("Half"), RaiseInStream(exception, "boom")]))
    events = await collect(backend(client), request())
    assert text_of(events) == "Half"
    failure = events[-1]
    assert isinstance(failure, ev.AgentFailure) and failure.kind is kind


async def test_a_denying_hook_shows_as_a_failed_step(fake: FakeHarness, client: Any) -> None:
    fake.enqueue(
        Script([Hook("pii_guard", "deny", reason="contains PII"), Text("I can't do that.")])
    )
    events = await collect(backend(client), request())

    [step] = [e for e in events if isinstance(e, ev.Progress)]
    assert step.status is ev.StepStatus.ERROR and "pii_guard denied" in step.title
    assert "PII" not in step.title  # the hook's reason is for operators
    allowed = Script([Hook("audit", "allow"), Text("fine")])
    fake.enqueue(allowed)
    assert not [e for e in await collect(backend(client), request()) if isinstance(e, ev.Progress)]


async def test_an_inline_tool_pauses_for_the_caller_and_resumes_with_its_result(
    fake: FakeHarness, client: Any
) -> None:
    fake.enqueue(
        Script(
            [
                Text("I will cancel it."),
                ToolUse("cancel_order", {"orderId": "ORD-1", "refund": True}, tool_use_id="tu_1"),
            ]
        ),
        Script([Text("Cancelled ORD-1.")]),
    )
    events = await collect(backend(client), request())

    [pause] = [e for e in events if isinstance(e, ev.ActionRequest)]
    [tool] = pause.inputs
    assert (tool.kind, tool.name, tool.needs_result, tool.needs_confirmation) == (
        "tool",
        "cancel_order",
        True,
        True,
    )
    assert dict((p.name, p.value) for p in tool.parameters) == {
        "orderId": "ORD-1",
        "refund": "true",
    }
    assert not [e for e in events if isinstance(e, ev.AgentFailure)]

    result = ev.ActionResult(tool, confirmed=True, body='{"status": "cancelled"}')
    resumed = await collect(backend(client), request("", resume=(result,)))

    assert text_of(resumed) == "Cancelled ORD-1."
    first, second = fake.invocations
    assert second.session_id == first.session_id == rsid(SESSION)
    assert second.messages == [
        {
            "role": "assistant",
            "content": [
                {
                    "toolUse": {
                        "toolUseId": "tu_1",
                        "name": "cancel_order",
                        "input": {"orderId": "ORD-1", "refund": True},
                        "type": "tool_use",
                    }
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tu_1",
                        "content": [{"text": '{"status": "cancelled"}'}],
                        "status": "success",
                    }
                }
            ],
        },
    ]


async def test_a_declined_inline_tool_goes_back_as_an_error_result(
    fake: FakeHarness, client: Any
) -> None:
    fake.enqueue(Script([ToolUse("cancel_order", {"orderId": "ORD-1"}, tool_use_id="tu_2")]))
    [pause] = [
        e for e in await collect(backend(client), request()) if isinstance(e, ev.ActionRequest)
    ]

    declined = ev.ActionResult(pause.inputs[0], confirmed=False)
    await collect(backend(client), request("", resume=(declined,)))

    [answer] = fake.invocations[1].tool_results
    assert answer["status"] == "error" and "declined" in answer["content"][0]["text"]
