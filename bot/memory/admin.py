"""Connecting to Redis, and what operators ask of it (doctor's self-test, usage reports)."""

from __future__ import annotations

import uuid

import fakeredis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from bot.history import StoredTurn
from bot.memory.store import Memory
from bot.settings import Settings

REDIS_CONNECTIONS = 32
SCAN_BATCH = 500


def connect(settings: Settings, *, embedded_fallback: bool = True) -> Redis:
    """The client for REDIS_URL; with none set, fakeredis's in-process server (same code path)."""
    if settings.redis_url is None:
        if not embedded_fallback:
            raise ValueError("REDIS_URL is not set")
        return fakeredis.FakeAsyncRedis()
    # A bounded pool that waits for a free connection: under a burst, opening hundreds of
    # connections (each with its own handshake) costs more than queueing for a few.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url.get_secret_value(),
        max_connections=REDIS_CONNECTIONS,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=3,
    )
    return Redis(connection_pool=pool)


def memory_for(settings: Settings, redis: Redis) -> Memory:
    return Memory(
        redis,
        prefix=settings.redis_key_prefix,
        idle_seconds=settings.session_idle_seconds,
        max_turns=settings.history_max_turns,
        ttl_seconds=settings.history_ttl_seconds,
    )


async def self_test(memory: Memory) -> None:
    """PING, then SET/GET/DEL a key under the prefix; raises RedisError/OSError on failure."""
    key, value = memory.key("doctor", uuid.uuid4().hex), uuid.uuid4().hex
    await memory.redis.ping()
    await memory.redis.set(key, value, ex=60)
    if await memory.redis.get(key) != value.encode():
        raise RedisError("a value written was not read back")
    await memory.redis.delete(key)


async def all_turns(memory: Memory) -> list[tuple[str, StoredTurn]]:
    """Every conversation's stored turns: SCAN `<prefix>turns:*`, LRANGE pipelined in batches.

    Damaged entries are skipped rather than hiding every other turn.
    """
    marker = memory.key("turns", "")
    found: list[tuple[str, StoredTurn]] = []
    batch: list[bytes] = []

    async def flush() -> None:
        async with memory.redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.lrange(key, 0, -1)
            lists = await pipe.execute()
        for key, items in zip(batch, lists, strict=True):
            conversation = key.decode()[len(marker) :]
            for raw in items:
                try:
                    found.append((conversation, StoredTurn.from_json(raw)))
                except (ValueError, TypeError):
                    continue
        batch.clear()

    async for key in memory.redis.scan_iter(match=f"{_escape_glob(marker)}*", count=SCAN_BATCH):
        batch.append(key)
        if len(batch) >= SCAN_BATCH:
            await flush()
    if batch:
        await flush()
    return found


def _escape_glob(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
