"""Scale-out proof: two replicas, one Redis (a server or a Cluster), one Slack; every question
gets exactly one answer."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from tests.conftest import StartBot
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.fakes.slack import FakeSlack
from tests.harness import BotRedis, mention, new_ts, wait_finished

CONVERSATIONS = 100

pytestmark = pytest.mark.both_redis


def follow_up(text: str, *, channel: str, thread_ts: str) -> dict[str, object]:
    ts = new_ts()
    return {
        "type": "message",
        "channel_type": "channel",
        "channel": channel,
        "user": "U0USER",
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "thread_ts": thread_ts,
        "team": "T0001",
    }


async def test_two_replicas_share_the_work_and_the_memory(
    start: StartBot, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime, bot_redis: BotRedis
) -> None:
    replicas = [await start(), await start()]
    threads = [
        (f"C0R{n % 10}", mention(f"question {n}", channel=f"C0R{n % 10}"))
        for n in range(CONVERSATIONS)
    ]

    # Each mention goes to one replica and, as a duplicate delivery, to the other one too.
    await asyncio.gather(
        *(
            replicas[(n + k) % 2].send_event(event, event_id=f"EvQ{n}")
            for n, (_, event) in enumerate(threads)
            for k in (0, 1)
        )
    )
    await wait_finished(slack, CONVERSATIONS)
    await asyncio.gather(
        *(
            replicas[(n + 1) % 2].send_event(
                follow_up(f"and then {n}?", channel=channel, thread_ts=event["ts"])
            )
            for n, (channel, event) in enumerate(threads)
        )
    )
    await wait_finished(slack, 2 * CONVERSATIONS)

    asked = Counter(i.input_text for i in bedrock.invocations)
    expected = {f"question {n}" for n in range(CONVERSATIONS)} | {
        f"and then {n}?" for n in range(CONVERSATIONS)
    }
    assert set(asked) == expected and set(asked.values()) == {1}
    for n, (channel, event) in enumerate(threads):
        answers = [m.visible for m in slack.thread(channel, event["ts"])]
        assert answers == [f"You said: question {n}", f"You said: and then {n}?"]
    memory = await remembered(bot_redis, threads)
    assert memory == [[f"question {n}", f"and then {n}?"] for n in range(CONVERSATIONS)]


async def remembered(redis: BotRedis, threads: list[tuple[str, dict[str, str]]]) -> list[list[str]]:
    """Each conversation's remembered questions, once both turns are stored (a turn is
    stored right before its answer's last Slack write)."""
    for _ in range(100):  # polls another component's store, for up to 5 s
        lists = [await redis.stored_turns(event["ts"], channel) for channel, event in threads]
        if all(len(turns) == 2 for turns in lists):
            break
        await asyncio.sleep(0.05)
    return [[json.loads(t)["question"] for t in turns] for turns in lists]
