"""Knowledge-Base (RetrieveAndGenerate) session ids, per conversation, in Redis.

Bedrock issues the RAG `sessionId` itself (we cannot derive it as for agents), so the one it
returned is kept under the conversation's hash tag, with the bot session it belongs to: a new
bot session (after SESSION_IDLE_SECONDS of idle) starts a new RAG session too. Redis errors
degrade to "no session" (the answer carries recent turns instead), never fail a turn.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

_ERRORS = (RedisError, OSError)


class RagSessions:
    """Get, keep and forget the RAG session id of one conversation (single-key operations)."""

    def __init__(self, redis: Any, *, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    def key(self, conversation: str) -> str:
        return f"{self._prefix}{{{conversation}}}:rag_session"

    async def get(self, conversation: str, *, bot_session: str) -> str | None:
        """The RAG session of this conversation's current bot session, if Bedrock issued one."""
        try:
            raw = await self._redis.get(self.key(conversation))
        except _ERRORS as exc:
            log.warning("cannot read the RAG session", extra={"error": type(exc).__name__})
            return None
        return rag_session_for(raw, bot_session)

    async def keep(self, conversation: str, *, bot_session: str, rag_session: str) -> None:
        value = json.dumps({"bot": bot_session, "rag": rag_session}, separators=(",", ":"))
        try:
            await self._redis.set(self.key(conversation), value, ex=self._ttl)
        except _ERRORS as exc:
            log.warning("cannot keep the RAG session", extra={"error": type(exc).__name__})

    async def forget(self, conversation: str) -> None:
        try:
            await self._redis.delete(self.key(conversation))
        except _ERRORS as exc:
            log.warning("cannot forget the RAG session", extra={"error": type(exc).__name__})


def rag_session_for(raw: str | bytes | None, bot_session: str) -> str | None:
    """Pure: the stored RAG session id when it belongs to `bot_session`, else None."""
    if raw is None:
        return None
    try:
        stored = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(stored, dict) or stored.get("bot") != bot_session:
        return None
    rag = stored.get("rag")
    return rag if isinstance(rag, str) and rag else None
