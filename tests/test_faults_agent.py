"""Fault injection on the agent side: every failure visible, explained, logged, recoverable."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import pytest

from tests.conftest import StartBot
from tests.fakes.bedrock import Drop, HttpError, Pause, RaiseInStream, Script, Text, Trace
from tests.fakes.slack import FakeSlack
from tests.harness import (
    Bot,
    FakeAgent,
    backend_name,
    expected_session,
    for_each_backend,
    make_idle,
    mention,
    stored_turns,
    wait_finished,
)

REF = re.compile(r"ref `([0-9a-f]{8})`")

# The errors each backend's API really has, with their HTTP statuses (botocore's models of
# InvokeAgent and InvokeAgentRuntime), by what the bot must make of them.
THROTTLED = {
    "bedrock-agents": [("ThrottlingException", 429), ("ServiceQuotaExceededException", 400)],
    "agentcore": [("ThrottlingException", 429), ("ServiceQuotaExceededException", 402)],
    "harness": [("ThrottlingException", 429), ("ServiceQuotaExceededException", 402)],
}
TRANSIENT = {
    "bedrock-agents": [
        ("DependencyFailedException", 424),
        ("BadGatewayException", 502),
        ("InternalServerException", 500),
        ("ModelNotReadyException", 424),
        ("ConflictException", 409),
    ],
    "agentcore": [
        ("InternalServerException", 500),
        ("RetryableConflictException", 409),
        ("RuntimeClientError", 424),
    ],
    "harness": [("InternalServerException", 500), ("RuntimeClientError", 424)],
}
INVOKE_PERMISSION = {
    "bedrock-agents": "bedrock:InvokeAgent",
    "agentcore": "bedrock-agentcore:InvokeAgentRuntime",
    "harness": "bedrock-agentcore:InvokeHarness",
}


async def final_text(slack: FakeSlack, thread_ts: str, *, stops: int = 1) -> str:
    await wait_finished(slack, stops)
    return "\n".join(m.visible for m in slack.thread("C0CHAN", thread_ts))


def initial(code: str, status: int) -> Script:
    return Script([HttpError(status, code, f"{code}: internal detail arn:aws:secret")])


# The harness's stream union (InvokeHarnessStreamOutput) carries only these exceptions.
HARNESS_STREAM_ERRORS = {"ValidationException", "InternalServerException", "RuntimeClientError"}


def skip_unless_in_stream_exists(
    agent: FakeAgent, failure: Callable[[str, int], Script], code: str
) -> None:
    harness = backend_name(agent) == "harness"
    if failure is in_stream and harness and code not in HARNESS_STREAM_ERRORS:
        pytest.skip(f"the harness never sends {code} inside its event stream")


def in_stream(code: str, status: int = 200) -> Script:
    del status  # in-stream exceptions arrive after HTTP 200
    camel = code[0].lower() + code[1:]
    return Script([RaiseInStream(camel, f"{code}: internal detail arn:aws:secret")])


@pytest.mark.parametrize("failure", [initial, in_stream], ids=["initial", "in-stream"])
@for_each_backend("code, status", THROTTLED)
async def test_throttling_gets_a_friendly_busy_reply_after_retries(
    bot: Bot,
    slack: FakeSlack,
    bedrock: FakeAgent,
    failure: Callable[[str, int], Script],
    code: str,
    status: int,
) -> None:
    skip_unless_in_stream_exists(bedrock, failure, code)
    bedrock.enqueue(*(failure(code, status) for _ in range(3)))
    event = mention("busy?")

    await bot.send_event(event)

    text = await final_text(slack, event["ts"])
    assert "busy" in text and "try again" in text
    assert "arn:aws" not in text and "Exception" not in text
    assert len(bedrock.invocations) == 3  # retried before any text reached Slack


@pytest.mark.parametrize("failure", [initial, in_stream], ids=["initial", "in-stream"])
@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("ValidationException", 400, "shorten or rephrase"),
        ("AccessDeniedException", 403, "misconfigured"),
        ("ResourceNotFoundException", 404, "misconfigured"),
    ],
)
async def test_errors_that_retrying_cannot_fix_are_explained_once(
    bot: Bot,
    slack: FakeSlack,
    bedrock: FakeAgent,
    caplog: pytest.LogCaptureFixture,
    failure: Callable[[str, int], Script],
    code: str,
    status: int,
    says: str,
) -> None:
    skip_unless_in_stream_exists(bedrock, failure, code)
    bedrock.enqueue(failure(code, status))
    event = mention("question")

    with caplog.at_level(logging.WARNING):
        await bot.send_event(event)
        text = await final_text(slack, event["ts"])

    assert says in text and "arn:aws" not in text
    [reference] = REF.findall(text)
    [record] = [r for r in caplog.records if getattr(r, "reference", None) == reference]
    assert record.code.lower() == code.lower()  # type: ignore[attr-defined]
    if says == "misconfigured":
        permission = INVOKE_PERMISSION[backend_name(bedrock)]
        assert permission in record.fix  # type: ignore[attr-defined]
    assert len(bedrock.invocations) == 1


@for_each_backend("code, status", TRANSIENT)
async def test_transient_errors_are_retried_before_the_stream_opens(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, code: str, status: int
) -> None:
    bedrock.enqueue(initial(code, status), in_stream(code), Script.answer("Recovered fine."))
    event = mention("question")

    await bot.send_event(event)

    assert await final_text(slack, event["ts"]) == "Recovered fine."
    assert len(bedrock.invocations) == 3


async def test_when_retries_run_out_the_error_reference_is_in_reply_and_log(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    bedrock.enqueue(*(initial("InternalServerException", 500) for _ in range(3)))
    event = mention("question")

    with caplog.at_level(logging.WARNING):
        await bot.send_event(event)
        text = await final_text(slack, event["ts"])

    [reference] = REF.findall(text)
    assert "Something went wrong" in text
    assert any(getattr(r, "reference", None) == reference for r in caplog.records)


async def test_nothing_is_retried_once_text_reached_slack(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    bedrock.enqueue(Script([Text("The first half"), RaiseInStream("internalServerException", "x")]))
    event = mention("question")

    await bot.send_event(event)

    text = await final_text(slack, event["ts"])
    assert text.startswith("The first half\n\n⚠️ _Answer interrupted")
    assert len(bedrock.invocations) == 1
    [turn] = await stored_turns(redis_prefix, event["ts"])
    assert b'"interrupted":true' in turn and b'"answer":"The first half"' in turn


async def test_a_dropped_connection_keeps_the_partial_answer_and_the_user_can_ask_again(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    bedrock.enqueue(Script([Text("Step one: open the"), Drop()]))
    event = mention("how do I deploy?")

    await bot.send_event(event)
    text = await final_text(slack, event["ts"])
    await bot.send_event(mention("how do I deploy? again", thread_ts=event["ts"]))
    text_after = await final_text(slack, event["ts"], stops=2)

    assert text.startswith("Step one: open the") and "interrupted" in text and REF.search(text)
    assert text_after.endswith("You said: how do I deploy? again")
    first, _second = await stored_turns(redis_prefix, event["ts"])
    assert b'"interrupted":true' in first


async def test_a_silent_agent_is_cut_off_after_the_idle_timeout(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    bot = await start(AGENT_IDLE_TIMEOUT_SECONDS="0.3")
    release = asyncio.Event()
    bedrock.enqueue(Script([Text("Thinking about it"), Pause(10, until=release)]))
    event = mention("hard question")

    await bot.send_event(event)

    text = await final_text(slack, event["ts"])
    release.set()
    assert text.startswith("Thinking about it") and "interrupted" in text
    [turn] = await stored_turns(redis_prefix, event["ts"])
    assert b'"interrupted":true' in turn
    assert slack.reactions_on("C0CHAN", event["ts"]) == []


async def test_a_new_session_the_agent_never_answered_still_gets_the_history_next_time(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    first = mention("my name is Ann")
    await bot.send_event(first)
    await wait_finished(slack)
    await make_idle(redis_prefix, first["ts"])
    code, status = ("ThrottlingException", 429)
    bedrock.enqueue(*(initial(code, status) for _ in range(3)))  # the fresh session fails

    await bot.send_event(mention("are you there?", thread_ts=first["ts"]))
    await wait_finished(slack, 2)
    await bot.send_event(mention("what is my name?", thread_ts=first["ts"]))
    await wait_finished(slack, 3)

    last = bedrock.invocations[-1]
    assert last.input_text == "what is my name?"
    assert last.session_id == expected_session(bedrock, f"T0001:C0CHAN:{first['ts']}:g2")
    assert [m["content"][0]["text"] for m in last.conversation_history][:2] == [
        "my name is Ann",
        "You said: my name is Ann",
    ]


async def test_agent_steps_without_text_keep_the_answer_alive(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(AGENT_IDLE_TIMEOUT_SECONDS="0.4")
    thinking = [Trace(None, delay=0.25) for _ in range(6)]  # 1.5 s of rationale, no text
    bedrock.enqueue(Script([Text("Let me check."), *thinking, Text(" Done.")]))
    event = mention("slow tools")

    await bot.send_event(event)
    await wait_finished(slack)

    assert [m.visible.splitlines()[0] for m in slack.thread("C0CHAN", event["ts"])] == [
        "Let me check. Done."
    ]
