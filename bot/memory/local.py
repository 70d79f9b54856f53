"""In-process ordering: the fast path before Redis, and the fallback while Redis is down."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class LocalLocks:
    """Per-conversation FIFO locks inside this process (the fast path before Redis)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class LocalClaims:
    """Events this process has seen (the fallback dedup while Redis is down), bounded in number
    and age."""

    def __init__(self, *, ttl_seconds: float, most: int = 50_000) -> None:
        self._ttl = ttl_seconds
        self._most = most
        self._until: OrderedDict[str, float] = OrderedDict()

    def claim(self, event_id: str) -> bool:
        """True the first time `event_id` is seen here within the time to live."""
        now = time.monotonic()
        while self._until and (
            len(self._until) > self._most or next(iter(self._until.values())) < now
        ):
            self._until.popitem(last=False)
        if event_id in self._until:
            return False
        self._until[event_id] = now + self._ttl
        return True
