"""Durable in-flight turns: what another replica needs to finish a turn whose owner died.

Each turn being answered is a hash `<prefix>{<conversation>}:inflight:<turn id>` (an opaque
payload, its owner's token, a lease deadline, how often it was taken over) and a member of one
sorted set of deadlines, `<prefix>inflight-deadlines`. The owner renews the deadline while it
works and deletes both after its final write. Every replica looks for deadlines in the past
(ZRANGEBYSCORE, no SCAN) and claims such a turn with a script on its hash alone — the sorted
set is only an index, never in the same script or MULTI, so everything stays cluster-safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.keys import Keys
from bot.memory.client import Client
from bot.memory.guard import StoreGuard

EVENT_TTL_SECONDS = 3600  # Slack retries within minutes; an hour covers every redelivery
RECORD_TTL_SECONDS = 86_400  # a record nobody could finish is not kept forever
_OUTAGE = object()

_RENEW = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'deadline', ARGV[2])
  return 1
end
return 0
"""
_FINISH = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# 0: gone (finished meanwhile); 1: its owner renewed in time; else {payload, attempts}.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'deadline') or '0') > tonumber(ARGV[1]) then return 1 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'deadline', ARGV[3])
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {redis.call('HGET', KEYS[1], 'payload'), attempts}
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    conversation: str
    turn_id: str
    payload: str
    attempts: int  # how many times this turn has been taken over, this claim included


def _member(conversation: str, turn_id: str) -> str:
    return f"{conversation}|{turn_id}"


def _now_ms() -> int:
    return int(time.time() * 1000)


class InflightTurns:
    def __init__(self, redis: Client, guard: StoreGuard, keys: Keys, *, lease_seconds: float):
        self._redis = redis
        self._guard = guard
        self._keys = keys
        self._lease_ms = int(lease_seconds * 1000)

    async def begin(
        self,
        conversation: str,
        turn_id: str,
        *,
        payload: str,
        owner: str,
        events: tuple[str, ...] = (),
    ) -> bool:
        """Record the turn before its first Slack write; False when Redis failed (no takeover
        for this turn, as for any write during an outage). The claims of `events` (claimed
        "in progress" for one lease) are marked done for the full hour in the same round trip:
        from now on a takeover, not a redelivery, finishes the turn."""
        key, deadline = self._keys.inflight(conversation, turn_id), _now_ms() + self._lease_ms

        async def write() -> bool:
            async with self._redis.pipeline(transaction=False) as pipe:
                # HSET keeps `attempts` of a turn taken over before: a turn that kills every
                # replica that tries it is given up after a few tries.
                pipe.hset(key, mapping={"payload": payload, "owner": owner, "deadline": deadline})
                pipe.expire(key, RECORD_TTL_SECONDS)
                pipe.zadd(
                    self._keys.inflight_deadlines(), {_member(conversation, turn_id): deadline}
                )
                for event in events:  # single-key commands: each in its own slot
                    pipe.set(self._keys.event(event), "done", ex=EVENT_TTL_SECONDS)
                await pipe.execute()
            return True

        return await self._guard.run("inflight_begin", write, fallback=False, fast=True)

    async def renew(self, conversation: str, turn_id: str, *, owner: str) -> bool | None:
        """Push the deadline out; False when another replica owns the turn now (stop writing),
        None when Redis could not say."""
        key, deadline = self._keys.inflight(conversation, turn_id), _now_ms() + self._lease_ms

        async def write() -> bool:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.eval(_RENEW, 1, key, owner, deadline)
                pipe.zadd(
                    self._keys.inflight_deadlines(),
                    {_member(conversation, turn_id): deadline},
                    xx=True,
                )
                renewed, _ = await pipe.execute()
            return bool(renewed)

        result = await self._guard.run("inflight_renew", write, fallback=_OUTAGE)
        return None if result is _OUTAGE else bool(result)

    async def finish(self, conversation: str, turn_id: str, *, owner: str) -> None:
        """The turn's final write is done: nobody needs to take it over."""
        key = self._keys.inflight(conversation, turn_id)

        async def write() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.eval(_FINISH, 1, key, owner)
                pipe.zrem(self._keys.inflight_deadlines(), _member(conversation, turn_id))
                await pipe.execute()

        await self._guard.run("inflight_finish", write, fallback=None)

    async def overdue(self, *, limit: int = 20) -> list[tuple[str, str]]:
        """(conversation, turn id) of turns whose lease ran out, oldest first."""
        raw = await self._guard.run(
            "inflight_overdue",
            lambda: self._redis.zrangebyscore(
                self._keys.inflight_deadlines(), "-inf", _now_ms(), start=0, num=limit
            ),
            fallback=list[Any](),
        )
        found: list[tuple[str, str]] = []
        for member in raw:
            conversation, _, turn_id = member.decode().rpartition("|")
            found.append((conversation, turn_id))
        return found

    async def claim(self, conversation: str, turn_id: str, *, owner: str) -> Claimed | None:
        """Take an overdue turn over, atomically: at most one replica gets it."""
        key, now = self._keys.inflight(conversation, turn_id), _now_ms()
        result = await self._guard.run(
            "inflight_claim",
            lambda: self._redis.eval(_CLAIM, 1, key, now, owner, now + self._lease_ms),
            fallback=1,
        )
        if result == 0:  # finished meanwhile: drop the stale index entry
            await self._guard.run(
                "inflight_forget",
                lambda: self._redis.zrem(
                    self._keys.inflight_deadlines(), _member(conversation, turn_id)
                ),
                fallback=0,
            )
            return None
        if not isinstance(result, list):
            return None
        payload, attempts = result
        return Claimed(conversation, turn_id, payload.decode(), int(attempts))
