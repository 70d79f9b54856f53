"""The only module that talks to Redis: history, session generations, dedup keys and locks.

Every key lives under one prefix. With no REDIS_URL the same code runs on fakeredis's
in-process server (one process, nothing persisted), so there is a single code path.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from redis.asyncio import Redis

from bot.events import HistoryMessage, Usage
from bot.keys import session_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """One question and its answer, as remembered."""

    question: str
    answer: str
    interrupted: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    user_id: str = ""
    asked_at: float = 0.0
    answered_at: float = 0.0
    turn_id: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> StoredTurn:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Session:
    """The agent session a turn runs in; `fresh` means the agent has forgotten the past."""

    session_id: str
    generation: int
    fresh: bool
    known: bool  # the bot has talked in this conversation before
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
    ) -> None:
        self.redis = redis
        self._prefix = prefix
        self._idle_seconds = idle_seconds
        self._max_turns = max_turns
        self._ttl = ttl_seconds

    def key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def claim_event(self, event_id: str, *, ttl_seconds: int = 3600) -> bool:
        """True for the first delivery of a Slack event, False for retries and duplicates."""
        return bool(await self.redis.set(self.key("event", event_id), "1", nx=True, ex=ttl_seconds))

    async def knows(self, conversation: str) -> bool:
        """Has the bot answered in this conversation (so follow-ups need no mention)?"""
        return bool(await self.redis.exists(self.key("session", conversation)))

    async def open_session(self, conversation: str, *, now: float | None = None) -> Session:
        """The session for the next turn: same generation while alive, a new one after idle."""
        now = time.time() if now is None else now
        state = await self.redis.hgetall(self.key("session", conversation))
        if not state:
            return Session(session_id(conversation, 1), 1, fresh=True, known=False)
        generation = int(state.get(b"generation", 1))
        last_active = float(state.get(b"last_active", 0))
        if now - last_active <= self._idle_seconds:
            return Session(
                session_id(conversation, generation), generation, fresh=False, known=True
            )
        history = await self.history(conversation)
        return Session(
            session_id(conversation, generation + 1),
            generation + 1,
            fresh=True,
            known=True,
            history=tuple(history),
        )

    async def history(self, conversation: str) -> list[StoredTurn]:
        if self._max_turns <= 0:
            return []
        raw = await self.redis.lrange(self.key("turns", conversation), -self._max_turns, -1)
        return [StoredTurn.from_json(item) for item in raw]

    async def record_turn(
        self, conversation: str, turn: StoredTurn, *, generation: int, now: float | None = None
    ) -> None:
        """Remember a finished turn and restart the session's idle clock."""
        now = time.time() if now is None else now
        turns_key = self.key("turns", conversation)
        session_key = self.key("session", conversation)
        async with self.redis.pipeline(transaction=True) as pipe:
            if self._max_turns > 0:
                pipe.rpush(turns_key, turn.to_json())
                pipe.ltrim(turns_key, -self._max_turns, -1)
                pipe.expire(turns_key, self._ttl)
            pipe.hset(session_key, mapping={"generation": generation, "last_active": now})
            pipe.expire(session_key, self._ttl)
            await pipe.execute()

    async def seed_context(self, conversation: str, turns: Sequence[StoredTurn]) -> None:
        """Store what the bot read from a thread it joined late, as earlier turns."""
        if not turns or self._max_turns <= 0:
            return
        turns_key = self.key("turns", conversation)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(turns_key, *(turn.to_json() for turn in turns))
            pipe.ltrim(turns_key, -self._max_turns, -1)
            pipe.expire(turns_key, self._ttl)
            await pipe.execute()


def replay_messages(turns: Sequence[StoredTurn]) -> list[HistoryMessage]:
    """Shape stored turns as Bedrock accepts them: user first, strictly alternating, no blanks."""
    messages: list[HistoryMessage] = []
    for turn in turns:
        for role, text in (("user", turn.question), ("assistant", turn.answer)):
            text = text.strip()
            if not text:
                continue
            if messages and messages[-1].role == role:
                messages[-1] = HistoryMessage(role, f"{messages[-1].text}\n\n{text}")  # type: ignore[arg-type]
            elif messages or role == "user":
                messages.append(HistoryMessage(role, text))  # type: ignore[arg-type]
    if messages and messages[-1].role == "user":
        # The new question follows as inputText; a trailing user message would break alternation.
        messages.pop()
    return messages


def turn_usage(turn: StoredTurn) -> Usage:
    return Usage(turn.input_tokens, turn.output_tokens)
