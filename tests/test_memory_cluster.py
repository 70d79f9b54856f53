"""What only a Redis Cluster can get wrong: cross-slot operations, and readiness by key."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.keys import Keys
from bot.memory import Memory, self_test
from tests.conftest import StartBot
from tests.harness import CLUSTER, RedisTarget

# On the cluster only; through `redis_target`, so each test's keys are removed afterwards.
pytestmark = pytest.mark.parametrize("redis_target", [CLUSTER], indirect=True, ids=["cluster"])


async def test_a_cross_slot_transaction_is_answered_without_memory_not_with_a_crash(
    redis_target: RedisTarget, redis_prefix: str
) -> None:
    client = redis_target.client()
    memory = Memory(client, prefix=redis_prefix, idle_seconds=60, max_turns=3, ttl_seconds=60)
    keys = Keys(redis_prefix)

    async def two_conversations() -> bool:
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(keys.lock("T:C:1"), "x")
            pipe.set(keys.lock("T:C:2"), "x")
            await pipe.execute()
        return True

    assert await memory.guard.run("test", two_conversations, fallback=False) is False
    assert memory.available is False
    assert await memory.claim_event("EvCross") is True  # the next good call restores it
    assert memory.available is True
    await client.aclose()


@pytest.mark.bedrock_only("the Redis path is the same for every backend")
async def test_on_a_cluster_readyz_writes_and_reads_a_key(
    start: StartBot, redis_target: RedisTarget, redis_prefix: str
) -> None:
    bot = await start()
    status, body = await bot.get("/readyz")
    assert status == 200 and json.loads(body)["checks"]["redis"] == "ok"
    client = redis_target.client()
    probes = [key async for key in client.scan_iter(match=f"{redis_prefix}probe:*")]
    assert len(probes) == 1  # a keyed write under the prefix, not a PING
    await client.aclose()


async def test_doctor_names_the_fix_when_a_cluster_node_is_used_as_one_server(
    redis_target: RedisTarget, redis_prefix: str
) -> None:
    standalone_client = Redis.from_url(redis_target.url)
    memory = Memory(
        standalone_client, prefix=redis_prefix, idle_seconds=60, max_turns=3, ttl_seconds=60
    )
    with pytest.raises(RedisError, match="set REDIS_CLUSTER=true"):
        await self_test(memory)
    await standalone_client.aclose()
