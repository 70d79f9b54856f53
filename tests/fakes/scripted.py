"""What both fake agent runtimes share: an aiohttp server on 127.0.0.1 that plays scripts."""

# ruff: noqa: ASYNC109  # waits take a timeout on purpose: a broken test fails, never hangs

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from aiohttp import web

if TYPE_CHECKING:  # bedrock.py defines the script vocabulary and builds on this module
    from tests.fakes.bedrock import Script

InvocationT = TypeVar("InvocationT")


class ScriptedServer(Generic[InvocationT]):
    """Records every request as an invocation and answers it with a script."""

    def __init__(self, responder: Callable[[InvocationT], Script]) -> None:
        self.url = ""
        self.responder = responder
        self.invocations: list[InvocationT] = []
        self._queue: deque[Script] = deque()
        self._arrived = asyncio.Condition()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None

    async def _serve(self, app: web.Application) -> None:
        """Listen on a free port and set ``url``."""
        # Short shutdown: stop() cancels in-flight handlers itself.
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        # A deep backlog so hundreds of benchmark connections arriving at once are not refused.
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=2048).start()
        self._runner = runner
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Cancel streams still running (e.g. long Pauses) and close the server."""
        for task in list(self._handlers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def start(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def enqueue(self, *scripts: Script) -> None:
        """Queue scripts for the next invocations, first in first out, before ``responder``."""
        self._queue.extend(scripts)

    async def wait_for_invocations(self, n: int, timeout: float = 5.0) -> list[InvocationT]:
        """Wait until at least ``n`` requests have arrived; return the first ``n``."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: len(self.invocations) >= n)
        except TimeoutError:
            raise TimeoutError(f"expected {n} invocations, got {len(self.invocations)}") from None
        return self.invocations[:n]

    async def _arrive(self, invocation: InvocationT) -> Script:
        """Record a request (waking waiters) and pick its script."""
        self.invocations.append(invocation)
        async with self._arrived:
            self._arrived.notify_all()
        return self._queue.popleft() if self._queue else self.responder(invocation)

    async def _recorded(
        self, invocation: Any, play: Callable[[Script], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Record `invocation`, answer it with its script through `play`, and mark it finished
        (`finished_at`, `_finished`); the handler is tracked so stop() can cancel a long stream."""
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            script = await self._arrive(invocation)
            return await play(script)
        finally:
            invocation.finished_at = time.monotonic()
            invocation._finished.set()
            self._handlers.discard(task)
