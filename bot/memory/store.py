"""The only module that talks to Redis: history, session generations, dedup keys and locks.

Every key is built by `bot.keys.Keys` under one prefix, so replicas sharing a Redis share
everything and tests can isolate themselves; a conversation's keys share a hash tag, so every
multi-key operation below stays in one Redis Cluster slot. With no REDIS_URL the same code runs
on fakeredis's in-process server. Every call goes through one `StoreGuard`: when Redis fails or
is too slow, the bot keeps answering without memory — dedup and locks fall back to this process,
history is empty, turns wait in a bounded outbox — and recovers by itself once Redis answers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from bot.history import StoredTurn
from bot.keys import Keys
from bot.limits import (
    FEEDBACK_MAX_VOTES,
    LATENCY_BUDGET_SECONDS,
    LOCK_LEASE_SECONDS,
)
from bot.memory import scripts, sessions
from bot.memory.client import Client
from bot.memory.guard import StoreGuard
from bot.memory.inflight import EVENT_TTL_SECONDS as EVENT_TTL_SECONDS
from bot.memory.inflight import InflightTurns
from bot.memory.lease import LeaseLocks
from bot.memory.local import LocalClaims, LocalLocks
from bot.memory.outbox import Outbox, PendingTurn
from bot.memory.sessions import Session

log = logging.getLogger(__name__)


class Memory:
    """Conversation state in Redis, shared by every replica."""

    def __init__(
        self,
        redis: Client,
        *,
        prefix: str,
        idle_seconds: int,
        max_turns: int,  # turns kept per conversation; 0 keeps none (HISTORY_MAX_TURNS=0)
        ttl_seconds: int,
        lock_lease_seconds: float = LOCK_LEASE_SECONDS,
        latency_budget: float = LATENCY_BUDGET_SECONDS,
        feedback_max_votes: int = FEEDBACK_MAX_VOTES,
    ) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self._idle_seconds = idle_seconds
        self._max_turns = max_turns
        self._ttl = ttl_seconds
        self._feedback_max = feedback_max_votes
        self.guard = StoreGuard(fast_timeout=latency_budget, on_recovery=self._write_back_soon)
        self._leases = LeaseLocks(redis, self.guard, lease_seconds=lock_lease_seconds)
        self.lease_seconds = lock_lease_seconds
        self.inflight = InflightTurns(
            redis, self.guard, self.keys, lease_seconds=lock_lease_seconds
        )
        self._local_locks = LocalLocks()
        self._local_events = LocalClaims(ttl_seconds=EVENT_TTL_SECONDS)
        self.outbox = Outbox()
        self._write_back: asyncio.Lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    @property
    def available(self) -> bool:
        return self.guard.available

    async def claim_event(self, event_id: str, *, in_progress: bool = False) -> bool:
        """True for the first delivery of a Slack event, False for retries and duplicates.

        `in_progress`: the claim holds for one lease only, until the turn's in-flight record
        marks it done for the full hour (bot/memory/inflight.py `begin`): a replica that dies
        in between must not make Slack's redelivery be dropped for an hour."""
        first_here = self._local_events.claim(event_id)
        key = self.keys.event(event_id)
        ttl = max(1, math.ceil(self.lease_seconds)) if in_progress else EVENT_TTL_SECONDS
        return await self.guard.run(
            "claim_event",
            lambda: self._set_once(key, ttl, value="in-progress" if in_progress else "done"),
            fallback=first_here,
            fast=True,
        )

    async def once(self, name: str, *, ttl_seconds: int) -> bool:
        """True the first time `name` is seen within `ttl_seconds` (notes, prompts): no spam."""
        key = self.keys.once(name)
        return await self.guard.run("once", lambda: self._set_once(key, ttl_seconds), fallback=True)

    async def _set_once(self, key: str, ttl_seconds: int, *, value: str = "1") -> bool:
        return bool(await self.redis.set(key, value, nx=True, ex=ttl_seconds))

    async def record_feedback(
        self, conversation: str, *, turn_id: str, user_id: str, vote: str
    ) -> bool:
        """Who voted which way on which answer; a user's later click replaces their vote.
        At most FEEDBACK_MAX_VOTES per conversation are kept, the newest."""
        key = self.keys.feedback(conversation)
        vote_args = (f"{turn_id}:{user_id}", f"{vote}:{int(time.time())}")
        return await self.guard.run(
            "record_feedback", lambda: self._vote(key, *vote_args), fallback=False
        )

    async def _vote(self, key: str, field: str, value: str) -> bool:
        script = scripts.RECORD_VOTE
        await self.redis.eval(script, 1, key, field, value, self._ttl, self._feedback_max)
        return True

    async def publish_slack_block(self, team_id: str, method: str, seconds: float) -> None:
        """Tell every replica that Slack rate-limited `method` in this workspace."""
        key = self.keys.slack_block(team_id, method)
        milliseconds = max(1, int(seconds * 1000))
        await self.guard.run(
            "publish_slack_block", lambda: self.redis.set(key, "1", px=milliseconds), fallback=None
        )

    async def slack_block(self, team_id: str, method: str) -> float:
        """Seconds left on a rate limit another replica saw (0 when none)."""
        key = self.keys.slack_block(team_id, method)
        remaining_ms = await self.guard.run(
            "slack_block", lambda: self.redis.pttl(key), fallback=0, fast=True
        )
        return max(0.0, int(remaining_ms) / 1000)

    async def knows(self, conversation: str) -> bool:
        """Has the bot answered in this conversation (so follow-ups need no mention)?"""
        key = self.keys.session(conversation)
        return bool(
            await self.guard.run("knows", lambda: self.redis.exists(key), fallback=0, fast=True)
        )

    @asynccontextmanager
    async def turn_lock(self, conversation: str) -> AsyncIterator[None]:
        """One turn at a time per conversation, across replicas: a Redis lock with a lease,
        renewed while the answer streams, released only by its owner."""
        async with (
            self._local_locks.hold(conversation),
            self._leases.hold(self.keys.lock(conversation)),
        ):
            yield

    async def open_session(
        self, conversation: str, *, now: float | None = None, fresh: bool = False
    ) -> Session:
        """The session for the next turn: same generation while alive, a new one after idle
        (or when `fresh`: a turn taken over from a dead replica, whose agent session may still
        be busy with the dead invocation).

        One round trip: read the session and, if it is new, mark the conversation known at
        once, so follow-ups during the very first answer already need no mention.
        """
        now = time.time() if now is None else now
        reading = functools.partial(self._read_session, conversation, now)
        state = await self.guard.run("open_session", reading, fallback=None, fast=True)
        session = sessions.next_session(
            conversation, state, now=now, idle_seconds=self._idle_seconds, fresh=fresh
        )
        if session.fresh and session.known:  # a new generation: the agent forgot the past
            return replace(session, history=tuple(await self.history(conversation)))
        return session

    async def _read_session(self, conversation: str, now: float) -> dict[bytes, bytes]:
        session_key = self.keys.session(conversation)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(session_key)
            pipe.hsetnx(session_key, "generation", 1)
            pipe.hsetnx(session_key, "last_active", now)
            pipe.expire(session_key, self._ttl)
            state, *_ = await pipe.execute()
        return dict(state)

    async def history(self, conversation: str) -> list[StoredTurn]:
        if self._max_turns <= 0:
            return []
        key = self.keys.turns(conversation)
        raw = await self.guard.run(
            "history",
            lambda: self.redis.lrange(key, -self._max_turns, -1),
            fallback=list[bytes | str](),
            fast=True,
        )
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
        """Remember a finished turn and restart the session's idle clock; False if Redis failed
        (the turn then waits in the outbox and is written once Redis is back).

        `session_used=False` (the agent never answered) keeps the session as it was: a new
        generation that never reached the agent must not count, or the next turn would skip
        the history replay its fresh session needs. The generation never goes down.
        """
        pending = PendingTurn(
            conversation, turn, generation, session_used, time.time() if now is None else now
        )
        if len(self.outbox):
            self.outbox.keep(pending)  # behind older turns, so each conversation keeps its order
            await self.write_back()
            return not len(self.outbox)
        if await self.guard.run("record_turn", lambda: self._write(pending), fallback=False):
            return True
        self.outbox.keep(pending)
        return False

    async def _write(self, pending: PendingTurn) -> bool:
        turns_key = self.keys.turns(pending.conversation)
        session_key = self.keys.session(pending.conversation)
        async with self.redis.pipeline(transaction=True) as pipe:
            if self._max_turns > 0:
                pipe.rpush(turns_key, pending.turn.to_json())
                pipe.ltrim(turns_key, -self._max_turns, -1)
                pipe.expire(turns_key, self._ttl)
            if pending.session_used:
                touch = (pending.generation, pending.answered_at, self._ttl)
                pipe.eval(scripts.TOUCH_SESSION, 1, session_key, *touch)
            await pipe.execute()
        return True

    async def write_back(self) -> None:
        """Write the turns kept during an outage, oldest first, while Redis takes them."""
        async with self._write_back:
            while (pending := self.outbox.peek()) is not None:
                if not await self.guard.run(
                    "write_back", lambda: self._write(pending), fallback=False
                ):
                    return
                self.outbox.written(pending)
                log.info(
                    "a turn answered during the Redis outage is stored now",
                    extra={"conversation": pending.conversation},
                )

    def _write_back_soon(self) -> None:
        if not len(self.outbox):
            return
        task = asyncio.create_task(self.write_back(), name="outbox-write-back")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def seed_context(self, conversation: str, context: str) -> None:
        """Keep what the bot read from a thread it joined late; later replays start with it."""
        if not context or self._max_turns <= 0:
            return
        turns_key = self.keys.turns(conversation)

        async def write() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(turns_key, StoredTurn(question=context, answer="").to_json())
                pipe.expire(turns_key, self._ttl)
                await pipe.execute()

        await self.guard.run("seed_context", write, fallback=None, fast=True)
