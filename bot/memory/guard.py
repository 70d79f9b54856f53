"""The one error boundary around Redis: a failed or slow call means "answer without memory".

Every store operation runs through `StoreGuard.run`. Whatever Redis, the network or the cluster
client raises — `RedisError`, `OSError`, `RedisClusterException` (which is not a `RedisError`,
e.g. `CrossSlotTransactionError`, `SlotNotCoveredError`) — becomes the operation's fallback
value, and the store is reported unavailable until a call succeeds again. Calls on the path to
the sign of life and the first text run under a latency budget (`REDIS_FAST_TIMEOUT_MS`): a
slow Redis then degrades memory, not responsiveness.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import RedisClusterException, RedisError

log = logging.getLogger(__name__)

T = TypeVar("T")

# TimeoutError: the latency budget ran out (asyncio's and the builtin are one class since 3.11).
STORE_ERRORS: tuple[type[BaseException], ...] = (
    RedisError,
    OSError,
    RedisClusterException,
    TimeoutError,
)


class StoreGuard:
    """Availability of the shared store, as the last call found it; one per process."""

    def __init__(self, *, fast_timeout: float, on_recovery: Callable[[], None] | None = None):
        self.fast_timeout = fast_timeout
        self.available = True
        self._on_recovery = on_recovery
        self._late: set[asyncio.Future[Any]] = set()

    async def run(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        *,
        fallback: T,
        fast: bool = False,
    ) -> T:
        """`call()`'s result, or `fallback` when Redis fails (or, with `fast`, is too slow)."""
        try:
            result = await (self._within_budget(call) if fast else call())
        except STORE_ERRORS as exc:
            self.failed(operation, exc)
            return fallback
        self.succeeded()
        return result

    async def _within_budget(self, call: Callable[[], Awaitable[T]]) -> T:
        # Past the budget the call is left to finish in the background rather than cancelled:
        # cancelling drops its connection, and a slow Redis then costs a reconnect per call.
        # (A late SET NX still lands, so another replica still sees the event as claimed.)
        task = asyncio.ensure_future(call())
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.fast_timeout)
        except TimeoutError:
            self._late.add(task)
            task.add_done_callback(self._late_done)
            raise

    def _late_done(self, task: asyncio.Future[Any]) -> None:
        self._late.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a late failure was already counted as a timeout

    def failed(self, operation: str, exc: BaseException) -> None:
        if self.available:
            slow = isinstance(exc, TimeoutError)
            log.error(
                "Redis is too slow: answering without memory until it is back"
                if slow
                else "Redis is unavailable: answering without memory until it is back",
                extra={"operation": operation, "error": type(exc).__name__},
            )
        self.available = False

    def succeeded(self) -> None:
        if self.available:
            return
        log.warning("Redis is back: memory restored")
        self.available = True
        if self._on_recovery is not None:
            self._on_recovery()
