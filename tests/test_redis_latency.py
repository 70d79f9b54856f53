"""A slow Redis degrades memory, not responsiveness; what it missed is written once it is back."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.conftest import StartBot
from tests.fakes.slack import FakeSlack
from tests.harness import FakeAgent, finished_answers, mention, stored_turns
from tests.redis_gate import RedisGate


def sign_of_life_shown(slack: FakeSlack) -> bool:
    return any(c.method in {"reactions.add", "assistant.threads.setStatus"} for c in slack.calls)


@pytest.mark.bedrock_only("the Redis path is the same for every backend")
async def test_a_redis_that_does_not_answer_delays_neither_the_sign_of_life_nor_the_answer(
    start: StartBot,
    slack: FakeSlack,
    bedrock: FakeAgent,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with RedisGate() as gate:
        bot = await start(REDIS_URL=gate.url, REDIS_LATENCY_BUDGET_MS="200")
        gate.hold_replies()
        question = mention("are you there?")
        with caplog.at_level(logging.ERROR):
            await bot.send_event(question)
            await slack.wait_for(lambda: sign_of_life_shown(slack))
            assert gate.replies_forwarded == 0  # shown without a single reply from Redis
            # The answer, too: the turn's write waits for the socket timeout, then the outbox.
            await slack.wait_for(lambda: finished_answers(slack) == 1, timeout=20)
        assert gate.replies_forwarded == 0
        assert [m.visible for m in slack.thread("C0CHAN", question["ts"])] == [
            "You said: are you there?"
        ]
        assert any("Redis is too slow" in r.getMessage() for r in caplog.records)

        gate.release_replies()
        follow_up = mention("and now?", thread_ts=question["ts"])
        await bot.send_event(follow_up)
        await slack.wait_for(lambda: finished_answers(slack) == 2, timeout=10)

        turns: list[bytes] = []
        for _ in range(100):  # the turn kept during the outage is written in the background
            turns = await stored_turns(redis_prefix, question["ts"])
            if len(turns) == 2:
                break
            await asyncio.sleep(0.05)
        assert [json.loads(t)["question"] for t in turns] == ["are you there?", "and now?"]
