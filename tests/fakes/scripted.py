"""What the fake agent runtimes share: a server that records requests and plays scripts.

Each fake says how its wire shape looks (its ``Invocation``, its routes, a step's frame); the
rest reads once here: recording and waiting for requests, the AWS error answer a script or a
bad request gets, and pumping a script's steps into a chunked stream with its pauses, delays,
drops and hang-ups.
"""

# ruff: noqa: ASYNC109  # waits take a timeout on purpose: a broken test fails, never hangs

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from aiohttp import web

from .server import LocalServer, aws_error
from .steps import Drop, HttpError, Pause, Script, Text, Timed

EVENT_STREAM = "application/vnd.amazon.eventstream"


@dataclass(kw_only=True)
class Recorded:
    """What every fake records of a request beside its own fields: headers and timings."""

    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, as they arrived
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    chunk_times: list[float] = field(default_factory=list)  # when each Text step went out
    disconnected: bool = False  # a write failed because the client had gone away
    _finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    async def wait_finished(self, timeout: float = 5.0) -> None:
        """Wait until the server is done with this request (ended, dropped or failed)."""
        async with asyncio.timeout(timeout):
            await self._finished.wait()


async def json_body(request: web.Request) -> Any:
    """The request's JSON body (an empty object when there is none)."""
    raw = await request.read()
    return json.loads(raw) if raw else {}


def echo(invocation: Any) -> Script:
    """Default responder: a single chunk echoing the input."""
    return Script([Text(f"You said: {invocation.input_text}")])


InvocationT = TypeVar("InvocationT", bound=Recorded)
Play = Callable[[web.Request, Any, Script], Awaitable[web.StreamResponse]]


def _valid(invocation: Any) -> str:
    return ""


class ScriptedServer(LocalServer, Generic[InvocationT]):
    """Records every request as an invocation and answers it with a script."""

    # Large bodies (InvokeAgent's inputText may be 25 MB), a deep backlog so hundreds of
    # benchmark connections arriving at once are not refused, and a short shutdown: stop()
    # cancels in-flight handlers itself.
    client_max_size: ClassVar[int] = 32 * 1024 * 1024
    backlog: ClassVar[int] = 2048
    shutdown_timeout: ClassVar[float] = 1.0

    def __init__(self, responder: Callable[[InvocationT], Script] = echo) -> None:
        super().__init__()
        self.responder = responder
        self.invocations: list[InvocationT] = []
        self._queue: deque[Script] = deque()
        self._arrived = asyncio.Condition()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def stop(self) -> None:
        """Cancel streams still running (e.g. long Pauses) and close the server."""
        for task in list(self._handlers):
            task.cancel()
        await super().stop()

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
        self,
        request: web.Request,
        invocation: Any,
        play: Play,
        invalid: Callable[[Any], str] = _valid,
    ) -> web.StreamResponse:
        """Record `invocation` with the request's headers, answer it with its script through
        `play` (unless `refusal` answers it: `invalid` says what the real API rejects in it, ""
        when nothing), and mark it finished (`finished_at`, `_finished`). The handler is
        tracked so stop() can cancel a long stream."""
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        invocation.headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            script = await self._arrive(invocation)
            if refused := await refusal(script, lambda: invalid(invocation)):
                return refused
            return await play(request, invocation, script)
        finally:
            invocation.finished_at = time.monotonic()
            invocation._finished.set()
            self._handlers.discard(task)


async def refusal(script: Script, invalid: Callable[[], str]) -> web.Response | None:
    """What AWS answers instead of a stream: the script's HttpError (after its delay), else a
    ValidationException when `invalid()` names what the real API rejects in the request (""
    when nothing), else None."""
    if script.steps and isinstance(first := script.steps[0], HttpError):
        await asyncio.sleep(first.delay)
        return aws_error(first.status, first.error_type, first.message)
    if problem := invalid():  # as AWS validates: a clean 400, never a stream
        return aws_error(400, "ValidationException", problem)
    return None


def open_stream(
    content_type: str, headers: Mapping[str, str] | None = None, *, length: int | None = None
) -> web.StreamResponse:
    """A 200 answer with a request id (and `headers`), not yet sent: chunked, unless it has a
    fixed `length`."""
    resp = web.StreamResponse(status=200)
    resp.content_type = content_type
    resp.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    resp.headers.update(headers or {})
    if length is None:
        resp.enable_chunked_encoding()
    else:
        resp.content_length = length
    return resp


async def timed(steps: Iterable[Timed | Pause]) -> AsyncIterator[Timed]:
    """The steps to play, each when its delay has passed; Pauses only wait."""
    for step in steps:
        if isinstance(step, Pause):
            # Without `until`, a fresh Event makes this a plain sleep of `seconds`.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for((step.until or asyncio.Event()).wait(), step.seconds)
            continue
        await asyncio.sleep(step.delay)
        yield step


async def hang_up(request: web.Request) -> None:
    """Flush what was written (the client gets it), then abort the TCP connection."""
    await request.writer.drain()
    if request.transport is not None:
        request.transport.abort()


async def stream(
    request: web.Request,
    inv: Recorded,
    resp: web.StreamResponse,
    steps: Iterable[Timed | Pause],
    frame: Callable[[Any], bytes],
    end: Callable[[], bytes] = lambda: b"",
) -> web.StreamResponse:
    """Send `resp`, then each step as `frame` writes it (nothing when it writes b""), then
    `end()`; a Drop hangs up mid-body. A client that left early is recorded, no server fault."""
    try:
        await resp.prepare(request)
        async for step in timed(steps):
            if isinstance(step, Drop):
                await hang_up(request)
                return resp
            if data := frame(step):
                await resp.write(data)
                # write() only drains past 64 KiB; drain each frame so chunk_times show slow
                # readers (and each event is one HTTP chunk, sent now).
                await request.writer.drain()
            if isinstance(step, Text):
                inv.chunk_times.append(time.monotonic())
        if data := end():
            await resp.write(data)
        await resp.write_eof()
    except ConnectionError:
        inv.disconnected = True
    return resp
