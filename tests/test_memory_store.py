"""The Redis store itself, against the real Redis and a Redis Cluster: capping, expiry,
locks, outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import LockNotOwnedError

from bot.history import StoredTurn
from bot.keys import Keys
from bot.memory import Client, Memory
from tests.harness import RedisTarget

pytestmark = pytest.mark.both_redis


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[Client]:
    client = redis_target.client()
    yield client
    await client.aclose()


def memory_on(redis: Client, prefix: str, **overrides: float) -> Memory:
    # A generous latency budget: a starved test machine must not pass for a slow Redis.
    options = {"idle_seconds": 60, "max_turns": 3, "ttl_seconds": 86_400, "latency_budget": 3.0}
    options |= overrides
    return Memory(redis, prefix=prefix, **options)  # type: ignore[arg-type]


async def test_history_keeps_the_last_max_turns_and_expires(
    redis: Client, redis_prefix: str
) -> None:
    memory = memory_on(redis, redis_prefix, max_turns=3, ttl_seconds=7 * 86_400)
    for n in range(5):
        await memory.record_turn("T:C:1", StoredTurn(f"q{n}", f"a{n}"), generation=1)

    turns = await memory.history("T:C:1")

    assert [t.question for t in turns] == ["q2", "q3", "q4"]
    keys = Keys(redis_prefix)
    for key in (keys.turns("T:C:1"), keys.session("T:C:1")):
        assert 7 * 86_400 - 5 <= await redis.ttl(key) <= 7 * 86_400


async def test_a_turn_keeps_its_interrupted_flag_and_token_usage(
    redis: Client, redis_prefix: str
) -> None:
    memory = memory_on(redis, redis_prefix)
    turn = StoredTurn(
        "q", "partial", interrupted=True, input_tokens=900, output_tokens=40, user_id="U1"
    )
    await memory.record_turn("T:C:2", turn, generation=1)

    assert await memory.history("T:C:2") == [turn]


async def test_an_event_is_claimed_once(redis: Client, redis_prefix: str) -> None:
    one, two = memory_on(redis, redis_prefix), memory_on(redis, redis_prefix)
    results = await asyncio.gather(*(m.claim_event("Ev42") for m in (one, two, one, two)))
    assert sorted(results) == [False, False, False, True]
    assert 3590 <= await redis.ttl(Keys(redis_prefix).event("Ev42")) <= 3600


async def test_only_the_lock_owner_releases_it_and_a_dead_owner_s_lease_runs_out(
    redis: Client, redis_prefix: str
) -> None:
    holder = memory_on(redis, redis_prefix, lock_lease_seconds=0.3)
    waiter = memory_on(redis, redis_prefix, lock_lease_seconds=0.3)
    order: list[str] = []

    async def second() -> None:
        async with waiter.turn_lock("T:C:9"):
            order.append("waiter")

    async with holder.turn_lock("T:C:9"):
        task = asyncio.create_task(second())
        # Held for several leases: renewal must keep the waiter out the whole time.
        await asyncio.sleep(0.8)
        order.append("holder")
    await asyncio.wait_for(task, 5)

    assert order == ["holder", "waiter"]
    assert not await redis.exists(Keys(redis_prefix).lock("T:C:9"))


async def test_a_stranger_cannot_release_a_lock(redis: Client, redis_prefix: str) -> None:
    memory = memory_on(redis, redis_prefix)
    async with memory.turn_lock("T:C:7"):
        key = Keys(redis_prefix).lock("T:C:7")
        stranger = redis.lock(key, timeout=5)
        stranger.local.token = b"not-the-owner"
        with pytest.raises(LockNotOwnedError):
            await stranger.release()
        assert await redis.exists(key)


async def test_without_redis_the_bot_answers_without_memory(redis_prefix: str) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    memory = memory_on(dead, redis_prefix)

    assert await memory.claim_event("EvA") is True
    assert await memory.claim_event("EvA") is False  # dedup falls back to this process
    session = await memory.open_session("T:C:3")
    async with memory.turn_lock("T:C:3"):
        recorded = await memory.record_turn("T:C:3", StoredTurn("q", "a"), generation=1)

    assert session.fresh and session.session_id.endswith(":g1")
    assert recorded is False
    assert memory.available is False
    await dead.aclose()


async def test_an_overdue_turn_is_claimed_by_exactly_one_replica(
    redis: Client, redis_prefix: str
) -> None:
    owner = memory_on(redis, redis_prefix, lock_lease_seconds=0.2)
    sweepers = [memory_on(redis, redis_prefix, lock_lease_seconds=0.2) for _ in range(4)]
    await owner.inflight.begin("T:C:5", "t1", payload='{"q": 1}', owner="dead")
    assert await sweepers[0].inflight.overdue() == []  # its lease still runs

    await asyncio.sleep(0.3)  # the owner died: its lease runs out (a deadline, not an event)
    [(conversation, turn_id)] = await sweepers[0].inflight.overdue()
    claims = await asyncio.gather(
        *(s.inflight.claim(conversation, turn_id, owner=f"s{n}") for n, s in enumerate(sweepers))
    )

    [won] = [c for c in claims if c is not None]
    assert (won.conversation, won.turn_id, won.payload, won.attempts) == (
        "T:C:5",
        "t1",
        '{"q": 1}',
        1,
    )
    assert await owner.inflight.renew("T:C:5", "t1", owner="dead") is False  # fenced off


async def test_a_finished_turn_is_nobody_s_to_take_over(redis: Client, redis_prefix: str) -> None:
    memory = memory_on(redis, redis_prefix, lock_lease_seconds=0.2)
    await memory.inflight.begin("T:C:6", "t2", payload="{}", owner="me")
    assert await memory.inflight.renew("T:C:6", "t2", owner="me") is True
    await memory.inflight.finish("T:C:6", "t2", owner="me")

    await asyncio.sleep(0.3)
    assert await memory.inflight.overdue() == []
    assert not await redis.exists(Keys(redis_prefix).inflight("T:C:6", "t2"))


async def test_feedback_keeps_the_newest_votes_of_a_conversation(
    redis: Client, redis_prefix: str
) -> None:
    memory = Memory(
        redis,
        prefix=redis_prefix,
        idle_seconds=60,
        max_turns=3,
        ttl_seconds=600,
        feedback_max_votes=3,
    )
    key = Keys(redis_prefix).feedback("T:D:1")
    for n in range(3):
        assert await memory.record_feedback("T:D:1", turn_id=f"t{n}", user_id="U1", vote="up")
    await redis.hset(key, "t0:U1", "up:1")  # the oldest vote, from long ago

    await memory.record_feedback("T:D:1", turn_id="t3", user_id="U1", vote="down")

    votes = {k.decode(): v.decode().split(":")[0] for k, v in (await redis.hgetall(key)).items()}
    assert votes == {"t1:U1": "up", "t2:U1": "up", "t3:U1": "down"}
