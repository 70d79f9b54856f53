"""Fault injection around the process: Redis outages, bad input, shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys

import aiohttp
import pytest

from tests.conftest import StartBot
from tests.fakes.__main__ import wait_ready
from tests.fakes.bedrock import Pause, Script, Text
from tests.fakes.signing import event_envelope, signed_headers
from tests.fakes.slack import FakeSlack
from tests.harness import (
    SIGNING_SECRET,
    Bot,
    FakeAgent,
    bot_env,
    mention,
    stored_turns,
    wait_finished,
)
from tests.private_redis import PrivateRedis


async def answered(slack: FakeSlack, thread_ts: str, text: str) -> None:
    await slack.wait_for(lambda: any(text in m.visible for m in slack.thread("C0CHAN", thread_ts)))


async def test_a_redis_outage_degrades_to_answers_without_memory_and_recovers(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, private_redis: PrivateRedis
) -> None:
    bot = await start(REDIS_URL=private_redis.url)
    assert (await bot.get("/readyz"))[0] == 200

    await private_redis.stop()
    during = mention("still there?")
    await bot.send_event(during)
    await answered(slack, during["ts"], "You said: still there?")
    status, body = await bot.get("/readyz")
    assert status == 503 and "redis" in json.loads(body)["checks"]
    assert (await bot.get("/healthz"))[0] == 200

    await private_redis.start()
    assert (await bot.get("/readyz"))[0] == 200
    after = mention("remember me")
    await bot.send_event(after)
    await answered(slack, after["ts"], "You said: remember me")
    follow_up = {
        "type": "message",
        "channel_type": "channel",
        "channel": "C0CHAN",
        "user": "U0USER",
        "text": "and now?",
        "ts": "1800000000.000001",
        "thread_ts": after["ts"],
        "team": "T0001",
    }
    await bot.send_event(follow_up)
    await answered(slack, after["ts"], "You said: and now?")  # memory is back: no mention needed


async def test_malformed_and_unknown_requests_get_clean_answers_and_no_traceback(
    bot: Bot, bedrock: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        not_json = await bot.post_signed("{this is not json")
        no_event = await bot.post_signed(json.dumps({"type": "event_callback", "team_id": "T0001"}))
        unknown = await bot.send_event({"type": "reaction_added", "user": "U1", "reaction": "tada"})
        no_fields = await bot.send_event({"type": "app_mention"})
        wrong_types = await bot.send_event(
            {"type": "app_mention", "user": 5, "channel": ["C"], "ts": None}
        )
        garbage_form = await bot.post_signed(
            "payload=%7Bbroken", content_type="application/x-www-form-urlencoded"
        )

    assert not_json.status in {200, 400}
    assert garbage_form.status in {200, 400}
    assert (no_event.status, unknown.status, no_fields.status) == (200, 200, 200)
    assert wrong_types.status in {200, 400}
    assert [r for r in caplog.records if r.exc_info] == []
    await bot.send_event(mention("the bot is fine"))
    assert [i.input_text for i in await bedrock.wait_for_invocations(1)] == ["the bot is fine"]


async def test_a_huge_question_is_cut_with_a_visible_note(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    event = mention("x" * 30_000)

    await bot.send_event(event)

    [invocation] = await bedrock.wait_for_invocations(1)
    assert invocation.input_text == "x" * 20_000
    await wait_finished(slack)
    shown = "".join(m.visible for m in slack.thread("C0CHAN", event["ts"]))
    assert shown.startswith("_(Your message was 30,000 characters; I only read the first 20,000.)_")


async def test_any_unicode_passes_through_intact(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    question = "שלום 👋🏽 family: 👨‍👩‍👧 zero\u200bwidth é\u0301 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 中文"
    bedrock.enqueue(Script([Text(question[:7]), Text(question[7:])]))
    event = mention(question)

    await bot.send_event(event)

    [invocation] = await bedrock.wait_for_invocations(1)
    assert invocation.input_text == question
    await wait_finished(slack)
    assert [m.visible for m in slack.thread("C0CHAN", event["ts"])] == [question]


async def run_bot_process(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    await wait_ready(f"http://127.0.0.1:{port}")
    return process


async def post_event(port: int, event: dict[str, object]) -> int:
    body = json.dumps(event_envelope(event))
    headers = {"Content-Type": "application/json", **signed_headers(body, SIGNING_SECRET)}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r,
    ):
        return r.status


async def test_sigterm_lets_answers_finish_within_the_grace_period(
    slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str, unused_tcp_port: int
) -> None:
    release = asyncio.Event()
    bedrock.enqueue(Script([Text("Almost "), Pause(10, until=release), Text("done.")]))
    env = os.environ | bot_env(slack, bedrock, redis_prefix) | {"PORT": str(unused_tcp_port)}
    process = await run_bot_process(env, unused_tcp_port)
    event = mention("finish me")
    await post_event(unused_tcp_port, event)
    await bedrock.wait_for_invocations(1)

    process.send_signal(signal.SIGTERM)
    await slack.wait_for(lambda: True)
    late = await post_event(unused_tcp_port, mention("too late"))
    release.set()
    await asyncio.wait_for(process.wait(), 20)

    assert process.returncode == 0
    assert late == 503  # draining: Slack retries it on another replica
    assert [m.visible for m in slack.thread("C0CHAN", event["ts"])] == ["Almost done."]
    assert len(bedrock.invocations) == 1


async def test_after_the_grace_period_what_is_left_is_marked_interrupted(
    slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str, unused_tcp_port: int
) -> None:
    bedrock.enqueue(Script([Text("Partial thoughts"), Pause(30)]))
    env = (
        os.environ
        | bot_env(slack, bedrock, redis_prefix)
        | {"PORT": str(unused_tcp_port), "SHUTDOWN_GRACE_SECONDS": "0.5"}
    )
    process = await run_bot_process(env, unused_tcp_port)
    event = mention("long one")
    await post_event(unused_tcp_port, event)
    await slack.wait_for_calls("chat.startStream")

    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 20)

    assert process.returncode == 0
    [message] = slack.thread("C0CHAN", event["ts"])
    assert message.visible.startswith("Partial thoughts\n\n⚠️ _Answer interrupted")
    assert not message.streaming and slack.reactions_on("C0CHAN", event["ts"]) == []
    [turn] = await stored_turns(redis_prefix, event["ts"])
    assert b'"interrupted":true' in turn
