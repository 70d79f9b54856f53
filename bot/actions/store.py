"""Pending confirmations in Redis, so any replica can take the click and a restart loses nothing.

One hash per paused turn, under the conversation's hash tag
(`{prefix}{<conversation>}:action:<id>`): what was asked, who may answer, where it was shown,
when it expires, and one `answer:<i>` field per input. Answers are claimed by a Lua script, so
a double click, or two clicks on two replicas, record one answer and resume the agent once.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from redis.exceptions import RedisError

from bot.events import ActionInput, ActionParameter, ActionRequest
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
class Place:
    """Where the question was shown, and so where the answer continues."""

    kind: str  # "thread" (a message in a channel or DM) or "response_url" (ephemeral)
    team_id: str
    channel: str
    thread_ts: str | None = None
    question_ts: str | None = None
    sign_of_life: str = "reaction"
    response_url: str = ""


@dataclass(frozen=True, slots=True)
class Pending:
    """A paused turn waiting for its asker."""

    pending_id: str
    conversation: str
    asker: str
    surface: str
    channel_id: str
    asked_turn_id: str
    question: str
    prior_text: str  # what the agent said before it paused (already shown)
    session_id: str
    generation: int
    request: ActionRequest
    place: Place
    expires_at: float
    attributes: Mapping[str, str] = field(default_factory=dict)
    shown_text: str = ""  # the text of the message the question was shown under


@dataclass(frozen=True, slots=True)
class Stored:
    """A pending confirmation as read back: its state, answers so far and message ts."""

    pending: Pending
    state: str
    answers: Mapping[int, int]
    message_ts: str | None


def new_pending_id() -> str:
    return secrets.token_hex(6)


def to_json(pending: Pending) -> str:
    data = asdict(pending)
    data["request"]["inputs"] = [_input_json(item) for item in pending.request.inputs]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _input_json(item: ActionInput) -> dict[str, Any]:
    data = asdict(item)
    data["raw"] = dict(item.raw)
    return data


def from_json(raw: str | bytes) -> Pending:
    data = json.loads(raw)
    request = data["request"]
    inputs = tuple(
        ActionInput(
            kind=item["kind"],
            action_group=item["action_group"],
            name=item["name"],
            parameters=tuple(ActionParameter(p["name"], p["value"]) for p in item["parameters"]),
            needs_confirmation=item["needs_confirmation"],
            needs_result=item["needs_result"],
            reason=item["reason"],
            raw=item["raw"],
        )
        for item in request["inputs"]
    )
    return Pending(
        **{
            **data,
            "request": ActionRequest(request["invocation_id"], inputs),
            "place": Place(**data["place"]),
            "attributes": dict(data.get("attributes") or {}),
        }
    )


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
        key = self.key(pending.conversation, pending.pending_id)
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
            await self._redis.zadd(
                self._index, {_member(pending.conversation, pending.pending_id): pending.expires_at}
            )
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
