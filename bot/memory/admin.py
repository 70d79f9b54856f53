"""What operators ask of Redis: doctor's self-test, /readyz's probe, usage reports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from redis.asyncio import RedisCluster
from redis.exceptions import RedisError, ResponseError

from bot.history import KeyedTurn, StoredTurn
from bot.memory.client import Client
from bot.memory.store import Memory
from bot.settings import Settings

SCAN_BATCH = 500
PROBE_TTL_SECONDS = 60


def memory_for(settings: Settings, redis: Client) -> Memory:
    return Memory(
        redis,
        prefix=settings.redis_key_prefix,
        idle_seconds=settings.session_idle_seconds,
        max_turns=settings.history_max_turns,
        ttl_seconds=settings.history_ttl_seconds,
        lock_lease_seconds=settings.turn_lease_seconds,
        latency_budget=settings.redis_latency_budget,
    )


async def probe(memory: Memory, name: str | None = None) -> None:
    """Write a key under the prefix and read it back; raises on failure.

    A keyed write, not a PING: on a cluster a PING answers while slots are down or MOVED, and
    a read-only replica answers PING too.
    """
    key, value = memory.keys.probe(name or uuid.uuid4().hex), uuid.uuid4().hex
    await memory.redis.set(key, value, ex=PROBE_TTL_SECONDS)
    if await memory.redis.get(key) != value.encode():
        raise RedisError("a value written was not read back")


async def self_test(memory: Memory) -> None:
    """doctor: PING, then SET/GET/DEL a key under the prefix; raises on failure."""
    name = f"doctor:{uuid.uuid4().hex}"
    await memory.redis.ping()
    if not isinstance(memory.redis, RedisCluster):
        # A cluster node answers PING and its own slots, and MOVED for the others: memory
        # would silently come and go with the conversation's slot.
        try:
            info = await memory.redis.info("cluster")
        except ResponseError:  # INFO renamed or refused (some managed services): cannot tell
            info = {}
        if str(info.get("cluster_enabled", 0)) == "1":
            raise RedisError("this is a Redis Cluster node: set REDIS_CLUSTER=true")
    await probe(memory, name)
    await memory.redis.delete(memory.keys.probe(name))


async def all_turns(memory: Memory) -> list[KeyedTurn]:
    """Every conversation's stored turns: SCAN for turns keys (on every primary of a
    cluster), LRANGE pipelined in batches (a non-transactional pipeline may span slots).

    Damaged entries are skipped rather than hiding every other turn.
    """
    found: list[KeyedTurn] = []
    batch: list[bytes] = []

    async def flush() -> None:
        async with memory.redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.lrange(key, 0, -1)
            lists = await pipe.execute()
        for key, items in zip(batch, lists, strict=True):
            conversation = memory.keys.conversation_of(key.decode())
            if conversation is None:
                continue
            for raw in items:
                try:
                    found.append(KeyedTurn(conversation, StoredTurn.from_json(raw)))
                except (ValueError, TypeError):
                    continue
        batch.clear()

    async for key in _turns_keys(memory):
        batch.append(key)
        if len(batch) >= SCAN_BATCH:
            await flush()
    if batch:
        await flush()
    return found


def _turns_keys(memory: Memory) -> AsyncIterator[bytes]:
    pattern = memory.keys.turns_pattern()
    if isinstance(memory.redis, RedisCluster):
        # Each primary holds only its own slots' keys: one cursor per primary.
        return memory.redis.scan_iter(
            match=pattern, count=SCAN_BATCH, target_nodes=RedisCluster.PRIMARIES
        )
    return memory.redis.scan_iter(match=pattern, count=SCAN_BATCH)
