"""One answer per user message, whatever envelope it came in: the same message under two event
ids (a redelivery that changed the envelope, or app_mention plus message) is answered once."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import StartBot
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, new_ts, wait_finished


async def all_idle(*bots: Bot) -> None:
    """Every delivery the bots took has been answered or dropped (none waits on a lock)."""
    async with asyncio.timeout(10):
        for bot in bots:
            await bot.runtime.services.pipeline.idle.wait()


pytestmark = pytest.mark.bedrock_only("deduplication happens before any agent is asked")


async def test_one_mention_under_two_event_ids_across_replicas_gets_one_answer(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    one, two = await start(), await start()
    event = mention("only once please")

    await asyncio.gather(
        one.send_event(event, event_id="EvFIRST0001"), two.send_event(event, event_id="EvOTHER0002")
    )
    await wait_finished(slack)
    await one.send_event(mention("a later question"))
    await wait_finished(slack, 2)
    await all_idle(one, two)

    assert [i.input_text for i in bedrock.invocations] == ["only once please", "a later question"]
    assert len(slack.thread("C0CHAN", event["ts"])) == 1


async def test_a_dm_redelivered_under_a_new_event_id_gets_one_answer(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start()
    root = new_ts()
    dm = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0DM",
        "user": "U0USER",
        "text": "hello once",
        "ts": new_ts(),
        "thread_ts": root,  # in the DM thread: the "is thinking…" status is the sign of life
        "team": "T0001",
    }

    await bot.send_event(dm, event_id="EvDM00000001")
    await wait_finished(slack)
    await bot.send_event(dm, event_id="EvDM00000002")
    await bot.send_event(dm | {"ts": new_ts(), "text": "hello twice"})
    await wait_finished(slack, 2)
    await all_idle(bot)

    assert [i.input_text for i in bedrock.invocations] == ["hello once", "hello twice"]
