"""The event claim says "in progress" for one lease, and "done" once the turn's in-flight record
exists: a replica that dies in between does not make Slack's redelivery be dropped for an hour."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import StartBot
from tests.fakes.bedrock import FakeBedrockAgentRuntime, Pause, Script, Text
from tests.fakes.slack import FakeSlack
from tests.harness import BotRedis, mention, wait_finished

LEASE = 2

pytestmark = [
    pytest.mark.both_redis,
    pytest.mark.bedrock_only("event claims are the same for every agent backend"),
]


async def test_a_redelivery_after_a_replica_died_between_claim_and_record_is_answered(
    start: StartBot, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime, bot_redis: BotRedis
) -> None:
    bot = await start(TURN_LEASE_SECONDS=str(LEASE))
    question = mention("anyone there?")
    # What a replica did before it was killed: it claimed the event and the message, and
    # died before its in-flight record (and so before any takeover could know of the turn).
    memory = bot.runtime.services.memory
    message = f"message:T0001:C0CHAN:{question['ts']}"
    assert await memory.claim_event("EvDied", in_progress=True)
    assert await memory.claim_event(message, in_progress=True)
    redis, keys = bot_redis.client(), bot_redis.keys
    try:
        assert 0 < await redis.ttl(keys.event("EvDied")) <= LEASE
        async with asyncio.timeout(LEASE + 5):  # Slack retries after a minute; the claim is gone
            while await redis.exists(keys.event("EvDied")):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        await redis.aclose()

    response = await bot.send_event(question, event_id="EvDied", retry_num=1)

    assert response.status == 200
    await wait_finished(slack, 1)
    assert any(
        m.visible.startswith("You said: anyone there?")
        for m in slack.thread("C0CHAN", question["ts"])
    )


async def test_once_the_turn_is_recorded_its_claim_is_done_and_a_redelivery_is_dropped(
    start: StartBot, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime, bot_redis: BotRedis
) -> None:
    go_on = asyncio.Event()
    bedrock.enqueue(Script([Text("Working on it, "), Pause(60, until=go_on)]))
    bot = await start(TURN_LEASE_SECONDS=str(LEASE))
    question = mention("slow one?")
    await bot.send_event(question, event_id="EvSlow")
    await bedrock.wait_for_invocations(1)  # the in-flight record exists before the agent runs

    redis, keys = bot_redis.client(), bot_redis.keys
    try:
        assert await redis.get(keys.event("EvSlow")) == b"done"
        assert await redis.ttl(keys.event("EvSlow")) > 60 * LEASE  # the full hour, not a lease
    finally:
        await redis.aclose()
    await bot.send_event(question, event_id="EvSlow", retry_num=1)
    go_on.set()

    await wait_finished(slack, 1)
    assert len(bedrock.invocations) == 1
    assert len([m for m in slack.thread("C0CHAN", question["ts"]) if not m.streaming]) == 1
