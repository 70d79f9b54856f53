"""Building the Redis client: one server (or a replicated primary), or a Redis Cluster."""

from __future__ import annotations

import logging

import fakeredis
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster

from bot.memory.guard import STORE_ERRORS
from bot.settings import Settings

log = logging.getLogger(__name__)

# Either client speaks every command the store uses; on a cluster, each command goes to the
# node owning its key's slot (hash tags keep one conversation's keys together).
Client = Redis | RedisCluster

REDIS_CONNECTIONS = 32
# A cluster client opens connections per node and fails (MaxConnectionsError) rather than wait
# when they are all busy, so it gets more headroom per node than the blocking pool above.
CLUSTER_CONNECTIONS_PER_NODE = 256


def connect(settings: Settings, *, embedded_fallback: bool = True) -> Client:
    """The client for REDIS_URL (REDIS_CLUSTER picks the cluster client; rediss:// is TLS);
    with none set, fakeredis's in-process server (same code path)."""
    if settings.redis_url is None:
        if not embedded_fallback:
            raise ValueError("REDIS_URL is not set")
        return fakeredis.FakeAsyncRedis()
    url = settings.redis_url.get_secret_value()
    if settings.redis_cluster:
        # REDIS_URL names any one node (ElastiCache Serverless: its endpoint); the client
        # learns the others from CLUSTER SLOTS and follows MOVED/ASK redirections itself.
        return RedisCluster.from_url(
            url,
            max_connections=CLUSTER_CONNECTIONS_PER_NODE,
            socket_timeout=5,
            socket_connect_timeout=3,
        )
    # A bounded pool that waits for a free connection: under a burst, opening hundreds of
    # connections (each with its own handshake) costs more than queueing for a few.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_CONNECTIONS,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=3,
    )
    return Redis(connection_pool=pool)


async def close(redis: Client) -> None:
    if isinstance(redis, RedisCluster):
        await redis.aclose()
    else:
        await redis.aclose(close_connection_pool=True)


async def warm(redis: Client) -> None:
    """Learn a cluster's topology before the first burst of traffic.

    redis-py's asyncio cluster client discovers the nodes on its first command; when hundreds
    of commands arrive during that discovery, some fail inside redis-py (a connection it is
    still opening gets reset). Discovering once at start-up avoids that. A cluster that is not
    reachable yet is not fatal: the client retries on first use, and /readyz says not ready.
    """
    if not isinstance(redis, RedisCluster):
        return
    try:
        await redis.initialize()
    except STORE_ERRORS as exc:
        log.warning(
            "the Redis Cluster is not reachable at start-up", extra={"error": type(exc).__name__}
        )
