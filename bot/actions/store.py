"""Pending confirmations in Redis, so any replica can take the click and a restart loses nothing.

One hash per paused turn, under the conversation's hash tag
(`{prefix}{<conversation>}:action:<id>`): what was asked, who may answer, where it was shown,
when it expires, and one `answer:<i>` field per input. Answers are claimed by a Lua script, so
a double click, or two clicks on two replicas, record one answer and resume the agent once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.exceptions import RedisError

from bot.actions.record import Pending as Pending
from bot.actions.record import Place as Place
from bot.actions.record import from_json as from_json
from bot.actions.record import to_json as to_json
from bot.memory.client import Client as RedisClient

log = logging.getLogger(__name__)

_STORE_ERRORS = (RedisError, OSError)
KEEP_AFTER_EXPIRY_SECONDS = 86_400  # late clicks still learn "expired", not "unknown"

# KEYS[1] the pending hash. ARGV: input index, choice, now.
# Returns the state after this click: missing, expired, answered (already), recorded, complete.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'expired' then return 'expired' end
if state ~= 'open' then return 'answered' end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', KEYS[1], 'expires_at')) then
  redis.call('HSET', KEYS[1], 'state', 'expired')
  return 'expired_now'
end
local total = tonumber(redis.call('HGET', KEYS[1], 'inputs'))
if tonumber(ARGV[1]) >= total then return 'missing' end
if redis.call('HSETNX', KEYS[1], 'answer:' .. ARGV[1], ARGV[2]) == 0 then return 'answered' end
for i = 0, total - 1 do
  if redis.call('HEXISTS', KEYS[1], 'answer:' .. i) == 0 then return 'recorded' end
end
redis.call('HSET', KEYS[1], 'state', 'complete')
return 'complete'
"""
# KEYS[1] the pending hash. Open → expired only; returns 1 when this call expired it.
_EXPIRE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'expired')
return 1
"""


class Claim(StrEnum):
    MISSING = "missing"
    EXPIRED = "expired"  # already expired before this click
    EXPIRED_NOW = "expired_now"  # this click found it expired (show it once)
    ANSWERED = "answered"
    RECORDED = "recorded"  # more inputs wait for an answer
    COMPLETE = "complete"  # this click answered the last one: it resumes the agent
    UNAVAILABLE = "unavailable"  # Redis failed


@dataclass(frozen=True, slots=True)
class Stored:
    """A pending confirmation as read back: its state, answers so far and message ts."""

    pending: Pending
    state: str
    answers: Mapping[int, int]
    message_ts: str | None


def _member(conversation: str, pending_id: str) -> str:
    return json.dumps([conversation, pending_id], separators=(",", ":"))


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class PendingStore:
    """The only code that reads or writes pending confirmations."""

    def __init__(self, redis: RedisClient, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, conversation: str, pending_id: str) -> str:
        # The conversation's hash tag: every key of one conversation stays in one cluster slot.
        return f"{self._prefix}{{{conversation}}}:action:{pending_id}"

    @property
    def _index(self) -> str:
        # Not per conversation: only ever used in single-key operations (any cluster slot).
        return f"{self._prefix}actions:expiring"

    async def due(self, now: float, *, limit: int = 50) -> list[tuple[str, str]]:
        """(conversation, pending id) of confirmations whose time is up, for any replica."""
        try:
            members = await self._redis.zrangebyscore(self._index, "-inf", now, start=0, num=limit)
        except _STORE_ERRORS as exc:
            log.warning("could not read expiring confirmations", extra={"error": str(exc)})
            return []
        found: list[tuple[str, str]] = []
        for member in members:
            try:
                conversation, pending_id = json.loads(
                    member if isinstance(member, bytes | str) else ""
                )
            except (ValueError, TypeError):
                continue
            found.append((str(conversation), str(pending_id)))
        return found

    async def forget(self, conversation: str, pending_id: str) -> None:
        """Nothing left to expire for this one (answered or expired)."""
        try:
            await self._redis.zrem(self._index, _member(conversation, pending_id))
        except _STORE_ERRORS as exc:
            log.warning("could not drop an expiry entry", extra={"error": str(exc)})

    async def save(self, pending: Pending, *, now: float) -> bool:
        """Store a new pending confirmation; inputs that need no person count as answered."""
        conversation = pending.asked.conversation
        key = self.key(conversation, pending.pending_id)
        mapping: dict[bytes | bytearray | memoryview | str | int | float, Any] = {
            "data": to_json(pending),
            "state": "open",
            "expires_at": pending.expires_at,
            "inputs": len(pending.request.inputs),
        }
        for index, item in enumerate(pending.request.inputs):
            if not item.needs_confirmation:
                mapping[f"answer:{index}"] = 0
        ttl = max(1, int(pending.expires_at - now)) + KEEP_AFTER_EXPIRY_SECONDS
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, ttl)
                await pipe.execute()
            member = _member(conversation, pending.pending_id)
            await self._redis.zadd(self._index, {member: pending.expires_at})
        except _STORE_ERRORS as exc:
            log.error("could not store a pending confirmation", extra={"error": type(exc).__name__})
            return False
        return True

    async def shown_at(self, conversation: str, pending_id: str, message_ts: str) -> None:
        try:
            await self._redis.hset(self.key(conversation, pending_id), "message_ts", message_ts)
        except _STORE_ERRORS as exc:
            log.warning("could not store where a confirmation is", extra={"error": str(exc)})

    async def load(self, conversation: str, pending_id: str) -> Stored | Claim:
        """The confirmation as stored, or Claim.MISSING / Claim.UNAVAILABLE (Redis failed)."""
        try:
            raw = await self._redis.hgetall(self.key(conversation, pending_id))
        except _STORE_ERRORS as exc:
            log.error("could not read a pending confirmation", extra={"error": type(exc).__name__})
            return Claim.UNAVAILABLE
        fields = {_bytes(name): _bytes(value) for name, value in raw.items()}
        if b"data" not in fields:
            return Claim.MISSING
        answers = {
            int(name[len(b"answer:") :]): int(value)
            for name, value in fields.items()
            if name.startswith(b"answer:")
        }
        ts = fields.get(b"message_ts")
        return Stored(
            from_json(fields[b"data"]),
            fields.get(b"state", b"open").decode(),
            answers,
            ts.decode() if ts else None,
        )

    async def claim(
        self, conversation: str, pending_id: str, *, index: int, choice: int, now: float
    ) -> Claim:
        try:
            outcome = await self._redis.eval(
                _CLAIM, 1, self.key(conversation, pending_id), index, choice, now
            )
        except _STORE_ERRORS as exc:
            log.error("could not claim a confirmation", extra={"error": type(exc).__name__})
            return Claim.UNAVAILABLE
        text = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
        try:
            return Claim(text)
        except ValueError:
            return Claim.MISSING  # "resuming"/"done" of a future version: nothing to do here

    async def expire(self, conversation: str, pending_id: str) -> bool:
        """Open → expired; True for the one caller that did it."""
        try:
            done = await self._redis.eval(_EXPIRE, 1, self.key(conversation, pending_id))
        except _STORE_ERRORS as exc:
            log.warning("could not expire a confirmation", extra={"error": type(exc).__name__})
            return False
        return bool(done)
