"""Bedrock Agents traces become Progress steps: KB lookups, action groups, code, collaborators."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.client import BaseClient

from bot.agents.bedrock_agents import StreamState, source_from_reference, translate_event
from bot.agents.progress import ProgressTracker
from bot.events import Progress, Source, StepStatus, TextDelta
from tests.fakes.bedrock import FakeBedrockAgentRuntime, Script, StepTrace, Text
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, wait_finished
from tests.servers import server_and_client
from tests.test_fake_bedrock import invoke

POLICY = {
    "content": {"text": "25 days"},
    "location": {"type": "WEB", "webLocation": {"url": "https://wiki.example.com/vacation"}},
    "metadata": {"title": "Vacation policy"},
}
BENEFITS = {"location": {"type": "S3", "s3Location": {"uri": "s3://handbook/benefits.pdf"}}}


def part(orchestration: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A TracePart as boto3 yields it under the `trace` stream event."""
    return {
        "agentId": "AG",
        "sessionId": "S",
        "trace": {"orchestrationTrace": orchestration},
        **extra,
    }


def steps(*parts: dict[str, Any]) -> list[Progress]:
    tracker = ProgressTracker(source_of=source_from_reference)
    return [event for p in parts for event in tracker.translate(p)]


def test_a_knowledge_base_lookup_opens_then_completes_with_its_sources() -> None:
    found = steps(
        part(StepTrace.kb_lookup("t1-0").orchestration),
        part(StepTrace.kb_found("t1-0", [POLICY, BENEFITS, POLICY]).orchestration),
    )
    assert found == [
        Progress("t1-0", "Searching the knowledge base", StepStatus.IN_PROGRESS),
        Progress(
            "t1-0",
            "Searching the knowledge base",
            StepStatus.COMPLETE,
            (
                Source("Vacation policy", "https://wiki.example.com/vacation"),
                Source("benefits.pdf", "s3://handbook/benefits.pdf"),
            ),
        ),
    ]


def test_action_groups_are_named_by_function_or_api_path() -> None:
    api = {
        "invocationInput": {
            "traceId": "t2-0",
            "invocationType": "ACTION_GROUP",
            "actionGroupInvocationInput": {
                "actionGroupName": "orders",
                "apiPath": "/orders/{id}",
                "verb": "get",
            },
        }
    }
    found = steps(
        part(StepTrace.action("t1-0", "orders", "lookup_order").orchestration),
        part(api),
        part(StepTrace.action_done("t1-0").orchestration),
    )
    assert [(p.step_id, p.title, p.status) for p in found] == [
        ("t1-0", "Running orders: lookup_order", StepStatus.IN_PROGRESS),
        ("t2-0", "Running orders: GET /orders/{id}", StepStatus.IN_PROGRESS),
        ("t1-0", "Running orders: lookup_order", StepStatus.COMPLETE),
    ]


def test_code_interpreter_errors_mark_the_step_failed() -> None:
    code = {"traceId": "t3-0", "invocationType": "ACTION_GROUP_CODE_INTERPRETER"}
    found = steps(
        part({"invocationInput": code | {"codeInterpreterInvocationInput": {"code": "1/0"}}}),
        part(
            {
                "observation": {
                    "traceId": "t3-0",
                    "codeInterpreterInvocationOutput": {"executionError": "ZeroDivisionError"},
                }
            }
        ),
    )
    assert [(p.title, p.status) for p in found] == [
        ("Running code", StepStatus.IN_PROGRESS),
        ("Running code", StepStatus.ERROR),
    ]


def test_collaborator_agents_and_their_own_steps_never_share_ids() -> None:
    ask = {
        "traceId": "t1-0",
        "invocationType": "AGENT_COLLABORATOR",
        "agentCollaboratorInvocationInput": {"agentCollaboratorName": "HR agent"},
    }
    found = steps(
        part({"invocationInput": ask}),
        part(StepTrace.kb_lookup("t1-0").orchestration, collaboratorName="HR agent"),
    )
    assert [(p.step_id, p.title) for p in found] == [
        ("t1-0", "Asking HR agent"),
        ("HR agent:t1-0", "Searching the knowledge base"),
    ]


def test_finish_rationale_and_unmatched_observations_are_no_steps() -> None:
    finish = {"invocationInput": {"traceId": "t9-0", "invocationType": "FINISH"}}
    final = {"observation": {"traceId": "t9-0", "type": "FINISH", "finalResponse": {"text": "x"}}}
    rationale = {"rationale": {"traceId": "t9-0", "text": "thinking"}}
    assert steps(part(finish), part(final), part(rationale), {"trace": "junk"}, {}) == []


def test_a_failure_trace_or_the_end_closes_what_is_still_open() -> None:
    tracker = ProgressTracker(source_of=source_from_reference)
    list(tracker.translate(part(StepTrace.kb_lookup("t1-0").orchestration)))
    failure = {"trace": {"failureTrace": {"traceId": "t1-0", "failureReason": "boom"}}}
    assert [p.status for p in tracker.translate(failure)] == [StepStatus.ERROR]
    list(tracker.translate(part(StepTrace.action("t2-0", "orders", "f").orchestration)))
    assert [p.status for p in tracker.close(failed=False)] == [StepStatus.COMPLETE]
    assert list(tracker.close(failed=True)) == []


fake, client = server_and_client(FakeBedrockAgentRuntime, "bedrock-agent-runtime")


async def test_traces_from_the_fake_parse_in_real_boto3_into_steps_in_order(
    fake: FakeBedrockAgentRuntime, client: BaseClient
) -> None:
    fake.enqueue(
        Script(
            [
                StepTrace.kb_lookup("a1b2c3-0"),
                StepTrace.kb_found("a1b2c3-0", [POLICY]),
                StepTrace.action("a1b2c3-1", "orders", "lookup_order"),
                StepTrace.action_done("a1b2c3-1", '{"status": "shipped"}'),
                StepTrace.kb_lookup("d4-0", "policy"),
                Text("Shipped."),
            ]
        )
    )

    _, raw_events = await asyncio.to_thread(invoke, client, enableTrace=True)

    state = StreamState()
    events = [event for raw in raw_events for event in translate_event(raw, state)]
    progress = [(e.title, e.status) for e in events if isinstance(e, Progress)]
    assert progress == [
        ("Searching the knowledge base", StepStatus.IN_PROGRESS),
        ("Searching the knowledge base", StepStatus.COMPLETE),
        ("Running orders: lookup_order", StepStatus.IN_PROGRESS),
        ("Running orders: lookup_order", StepStatus.COMPLETE),
        ("Searching the knowledge base", StepStatus.IN_PROGRESS),
    ]
    [kb_done] = [e for e in events if isinstance(e, Progress) and e.sources]
    assert kb_done.sources == (Source("Vacation policy", "https://wiki.example.com/vacation"),)
    assert events[-1] == TextDelta("Shipped.")
    assert [p.step_id for p in state.progress.close(failed=False)] == ["d4-0"]


@pytest.mark.bedrock_only("the orchestration trace is Bedrock Agents' own")
async def test_step_traces_never_reach_the_answer_text(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    assert isinstance(bedrock, FakeBedrockAgentRuntime)
    bedrock.enqueue(
        Script(
            [
                StepTrace.kb_lookup("e1-0"),
                Text("You get "),
                StepTrace.kb_found("e1-0", [POLICY]),
                Text("25 days."),
            ]
        )
    )
    event = mention("vacation?")

    await bot.send_event(event)

    await wait_finished(slack)
    [message] = slack.thread("C0CHAN", event["ts"])
    assert message.visible == "You get 25 days."
