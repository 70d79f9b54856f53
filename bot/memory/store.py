"""The only module that talks to Redis: history, session generations, dedup keys and locks.

Every key lives under one prefix, so replicas sharing a Redis share everything and tests can
isolate themselves. With no REDIS_URL the same code runs on fakeredis's in-process server.
When Redis fails, the bot keeps answering without memory: dedup and locks fall back to this
process, history is empty, and everything recovers by itself once Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot.history import StoredTurn
from bot.keys import session_id
from bot.memory.local import LocalLocks

log = logging.getLogger(__name__)

EVENT_TTL_SECONDS = 3600  # Slack retries within minutes; an hour covers every redelivery
LOCK_LEASE_SECONDS = 30.0  # a crashed replica's lock frees itself after this
_STORE_ERRORS = (RedisError, OSError)
_LOCAL_EVENTS_MAX = 50_000
# Set last_active; raise the generation only (a replica that fell back to generation 1 during
# a Redis outage must not rewind a conversation that is at generation 5).
_TOUCH_SESSION = """
local current = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'generation', ARGV[1]) end
redis.call('HSET', KEYS[1], 'last_active', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class Session:
    """The agent session a turn runs in; `fresh` means the agent has forgotten the past."""

    session_id: str
    generation: int
    fresh: bool
    known: bool  # the bot has answered in this conversation before
    history: tuple[StoredTurn, ...] = field(default=())


class Memory:
    """Conversation state in Redis, shared by every replica."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        idle_seconds: int,
        max_turns: int,
        ttl_seconds: int,
        lock_lease_seconds: float = LOCK_LEASE_SECONDS,
    ) -> None:
        self.redis = redis
        self._prefix = prefix
        self._idle_seconds = idle_seconds
        self._max_turns = max_turns
        self._ttl = ttl_seconds
        self._lease = lock_lease_seconds
        self._local_locks = LocalLocks()
        self._local_events: OrderedDict[str, float] = OrderedDict()
        self.available = True

    def key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def claim_event(self, event_id: str) -> bool:
        """True for the first delivery of a Slack event, False for retries and duplicates."""
        first_here = self._claim_locally(event_id)
        try:
            claimed = await self.redis.set(
                self.key("event", event_id), "1", nx=True, ex=EVENT_TTL_SECONDS
            )
        except _STORE_ERRORS as exc:
            self._unavailable("claim_event", exc)
            return first_here
        self._available()
        return bool(claimed)

    async def once(self, name: str, *, ttl_seconds: int) -> bool:
        """True the first time `name` is seen within `ttl_seconds` (notes, prompts): no spam."""
        try:
            first = await self.redis.set(self.key("once", name), "1", nx=True, ex=ttl_seconds)
        except _STORE_ERRORS as exc:
            self._unavailable("once", exc)
            return True
        self._available()
        return bool(first)

    async def record_feedback(
        self, conversation: str, *, turn_id: str, user_id: str, vote: str
    ) -> bool:
        """Who voted which way on which answer; a user's later click replaces their vote."""
        key = self.key("feedback", conversation)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, f"{turn_id}:{user_id}", f"{vote}:{int(time.time())}")
                pipe.expire(key, self._ttl)
                await pipe.execute()
        except _STORE_ERRORS as exc:
            self._unavailable("record_feedback", exc)
            return False
        self._available()
        return True

    async def publish_slack_block(self, team_id: str, method: str, seconds: float) -> None:
        """Tell every replica that Slack rate-limited `method` in this workspace."""
        key = self.key("slack429", team_id, method)
        try:
            await self.redis.set(key, "1", px=max(1, int(seconds * 1000)))
        except _STORE_ERRORS as exc:
            self._unavailable("publish_slack_block", exc)

    async def slack_block(self, team_id: str, method: str) -> float:
        """Seconds left on a rate limit another replica saw (0 when none)."""
        try:
            remaining_ms = await self.redis.pttl(self.key("slack429", team_id, method))
        except _STORE_ERRORS as exc:
            self._unavailable("slack_block", exc)
            return 0.0
        return max(0.0, remaining_ms / 1000)

    async def knows(self, conversation: str) -> bool:
        """Has the bot answered in this conversation (so follow-ups need no mention)?"""
        try:
            known = bool(await self.redis.exists(self.key("session", conversation)))
        except _STORE_ERRORS as exc:
            self._unavailable("knows", exc)
            return False
        self._available()
        return known

    @asynccontextmanager
    async def turn_lock(self, conversation: str) -> AsyncIterator[None]:
        """One turn at a time per conversation, across replicas: a Redis lock with a lease,
        renewed while the answer streams, released only by its owner."""
        async with self._local_locks.hold(conversation):
            lock = self.redis.lock(
                self.key("lock", conversation), timeout=self._lease, sleep=0.05, thread_local=False
            )
            try:
                acquired = bool(await lock.acquire())
            except _STORE_ERRORS as exc:
                self._unavailable("turn_lock", exc)
                acquired = False
            if not acquired:
                yield  # this process's lock still orders the turns it sees
                return
            renewal = asyncio.create_task(self._renew(lock), name="lock-renewal")
            try:
                yield
            finally:
                renewal.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewal
                try:
                    await lock.release()
                except (LockError, *_STORE_ERRORS) as exc:
                    log.warning(
                        "conversation lock was lost before release", extra={"error": str(exc)}
                    )

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await lock.reacquire()
            except (LockError, *_STORE_ERRORS) as exc:
                log.warning("could not renew the conversation lock", extra={"error": str(exc)})

    async def open_session(self, conversation: str, *, now: float | None = None) -> Session:
        """The session for the next turn: same generation while alive, a new one after idle.

        One round trip: read the session and, if it is new, mark the conversation known at
        once, so follow-ups during the very first answer already need no mention.
        """
        now = time.time() if now is None else now
        session_key = self.key("session", conversation)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(session_key)
                pipe.hsetnx(session_key, "generation", 1)
                pipe.hsetnx(session_key, "last_active", now)
                pipe.expire(session_key, self._ttl)
                state, *_ = await pipe.execute()
            idle = bool(state) and now - float(state.get(b"last_active", 0)) > self._idle_seconds
            history = tuple(await self._history(conversation)) if idle else ()
        except _STORE_ERRORS as exc:
            self._unavailable("open_session", exc)
            return Session(session_id(conversation, 1), 1, fresh=True, known=False)
        self._available()
        if not state:
            return Session(session_id(conversation, 1), 1, fresh=True, known=False)
        generation = int(state.get(b"generation", 1))
        if not idle:
            return Session(
                session_id(conversation, generation), generation, fresh=False, known=True
            )
        return Session(
            session_id(conversation, generation + 1), generation + 1, True, True, history
        )

    async def history(self, conversation: str) -> list[StoredTurn]:
        try:
            return await self._history(conversation)
        except _STORE_ERRORS as exc:
            self._unavailable("history", exc)
            return []

    async def _history(self, conversation: str) -> list[StoredTurn]:
        if self._max_turns <= 0:
            return []
        raw = await self.redis.lrange(self.key("turns", conversation), -self._max_turns, -1)
        return [StoredTurn.from_json(item) for item in raw]

    async def record_turn(
        self,
        conversation: str,
        turn: StoredTurn,
        *,
        generation: int,
        session_used: bool = True,
        now: float | None = None,
    ) -> bool:
        """Remember a finished turn and restart the session's idle clock; False if Redis failed.

        `session_used=False` (the agent never answered) keeps the session as it was: a new
        generation that never reached the agent must not count, or the next turn would skip
        the history replay its fresh session needs. The generation never goes down.
        """
        now = time.time() if now is None else now
        turns_key = self.key("turns", conversation)
        session_key = self.key("session", conversation)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if self._max_turns > 0:
                    pipe.rpush(turns_key, turn.to_json())
                    pipe.ltrim(turns_key, -self._max_turns, -1)
                    pipe.expire(turns_key, self._ttl)
                if session_used:
                    pipe.eval(_TOUCH_SESSION, 1, session_key, generation, now, self._ttl)
                await pipe.execute()
        except _STORE_ERRORS as exc:
            self._unavailable("record_turn", exc)
            return False
        self._available()
        return True

    async def seed_context(self, conversation: str, context: str) -> None:
        """Keep what the bot read from a thread it joined late; later replays start with it."""
        if not context or self._max_turns <= 0:
            return
        turns_key = self.key("turns", conversation)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(turns_key, StoredTurn(question=context, answer="").to_json())
                pipe.expire(turns_key, self._ttl)
                await pipe.execute()
        except _STORE_ERRORS as exc:
            self._unavailable("seed_context", exc)

    def _claim_locally(self, event_id: str) -> bool:
        now = time.monotonic()
        while self._local_events and (
            len(self._local_events) > _LOCAL_EVENTS_MAX
            or next(iter(self._local_events.values())) < now
        ):
            self._local_events.popitem(last=False)
        if event_id in self._local_events:
            return False
        self._local_events[event_id] = now + EVENT_TTL_SECONDS
        return True

    def _unavailable(self, operation: str, exc: BaseException) -> None:
        if self.available:
            log.error(
                "Redis is unavailable: answering without memory until it is back",
                extra={"operation": operation, "error": type(exc).__name__},
            )
        self.available = False

    def _available(self) -> None:
        if not self.available:
            log.warning("Redis is back: memory restored")
        self.available = True
