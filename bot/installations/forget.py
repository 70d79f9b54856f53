"""A workspace that removes the app can take its conversations with it
(DELETE_CONVERSATIONS_ON_UNINSTALL).

Every key of a conversation starts with its hash tag, and a conversation key starts with its
team id (`<prefix>{T0123:C0456:171.1}:turns`), so one SCAN pattern finds all of one team's keys
and none of another's. On a Redis Cluster each primary holds only its own slots: one cursor per
primary. Keys are deleted one by one (single-key commands: nothing crosses slots).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from redis.asyncio import RedisCluster

from bot.memory import STORE_ERRORS, Memory

log = logging.getLogger(__name__)

SCAN_BATCH = 500


async def delete_team_conversations(memory: Memory, team_id: str) -> int | None:
    """Delete every key of `team_id`'s conversations; how many, or None when Redis failed
    (logged; the installation is gone either way, the rest expires with its TTL)."""
    deleted = 0
    try:
        async for key in _team_keys(memory, team_id):
            deleted += int(await memory.redis.unlink(key))
    except STORE_ERRORS as exc:
        log.warning(
            "could not delete the workspace's conversations",
            extra={"team": team_id, "deleted": deleted, "error": type(exc).__name__},
        )
        return None
    return deleted


def _team_keys(memory: Memory, team_id: str) -> AsyncIterator[bytes]:
    pattern = memory.keys.team_pattern(team_id)
    if isinstance(memory.redis, RedisCluster):
        return memory.redis.scan_iter(
            match=pattern, count=SCAN_BATCH, target_nodes=RedisCluster.PRIMARIES
        )
    return memory.redis.scan_iter(match=pattern, count=SCAN_BATCH)
