"""slack_sdk's `AsyncOAuthStateStore` on Redis: each OAuth `state` works once, for a short time.

`state` ties Slack's redirect back to the browser that started the install (Bolt also checks
it against a cookie), so a forged or replayed callback is refused. GETDEL makes "once" atomic
across replicas: two callbacks with the same state cannot both succeed.
"""

from __future__ import annotations

import logging
import re
import secrets

from redis.exceptions import RedisError
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.memory.client import Client as RedisClient

log = logging.getLogger(__name__)

STATE_SECONDS = 600  # Slack's own default: long enough to read the consent screen
_STATE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


class RedisStateStore(AsyncOAuthStateStore):
    def __init__(
        self, redis: RedisClient, *, prefix: str, ttl_seconds: int = STATE_SECONDS
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    def key(self, state: str) -> str:
        return f"{self._prefix}oauth-state:{state}"

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        """A new state; raises Redis errors (the install page then says to try again)."""
        state = secrets.token_urlsafe(32)
        await self._redis.set(self.key(state), b"1", ex=self._ttl, nx=True)
        return state

    async def async_consume(self, state: str) -> bool:
        """True exactly once for a state this app issued within the last `ttl_seconds`."""
        if not isinstance(state, str) or not _STATE_SHAPE.match(state):
            return False  # junk never reaches Redis
        try:
            return await self._redis.getdel(self.key(state)) is not None
        except (RedisError, OSError) as exc:
            log.warning("OAuth state store unreachable", extra={"error": type(exc).__name__})
            return False
