"""The agent-backend interface and the thread bridge every boto3-based backend shares.

boto3 blocks, so each answer's event stream is read in a worker thread of one bounded pool and
handed to asyncio through a queue. Failures that arrive before any text has been handed over are
retried here with backoff; once text has gone out, nothing is retried (the user already saw it).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, NotRequired, Protocol, TypedDict, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from bot.agents.hints import OperatorHints
from bot.agents.streams import HEARTBEAT, Emit, StreamHandle, abort_stream
from bot.events import AgentEvent, AgentFailure, AgentRequest, FailureKind, TextDelta

log = logging.getLogger(__name__)

Classify = Callable[[BaseException], AgentFailure]  # an AWS error, as this API's failure

_RETRYABLE = frozenset({FailureKind.UNAVAILABLE, FailureKind.CONFLICT, FailureKind.THROTTLED})
_END = object()
# Text that follows other text within this long reaches the event loop together: the writer
# shows text at most every STREAM_UPDATE_INTERVAL_MS, so a wake-up per chunk (40 a second at
# model speed, each costing the loop ≈ 40 µs) buys nothing. First text and the end go at once.
_COALESCE_SECONDS = 0.1


class AgentBackend(Protocol):
    """What the pipeline knows of an agent: one streamed answer per request."""

    def stream(self, request: AgentRequest) -> AsyncIterator[AgentEvent]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries before the first text: `attempts` in all, exponential backoff with full jitter."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 4.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class Plumbing(TypedDict):
    """What every threaded backend is built with, beside what it calls (bot.agents builds it)."""

    client: Any  # the boto3 client of the backend's API
    executor: ThreadPoolExecutor
    idle_timeout: float
    retry: RetryPolicy
    # HISTORY_REPLAY=input_preamble: a fresh session's history goes into the question's text
    # rather than the API's own history field (the Knowledge Base has none: always the text).
    replay_as_preamble: NotRequired[bool]


@dataclass(frozen=True, slots=True)
class Api:
    """The call that opens a backend's answers: the client method, the response key holding
    the answer's stream, and how the API's errors read as failures."""

    operation: str
    stream: str
    classify: Classify


class ThreadedBackend(ABC):
    """Runs a blocking `_invoke` in a bounded pool and exposes it as an async event stream."""

    api: ClassVar[Api]
    operator_hints: ClassVar[OperatorHints]  # what to check when this backend's calls fail

    def __init__(self, **plumbing: Unpack[Plumbing]) -> None:
        self._client = plumbing["client"]
        self._executor = plumbing["executor"]
        self._idle_timeout = plumbing["idle_timeout"]
        self._retry = plumbing["retry"]
        self._replay_as_preamble = plumbing.get("replay_as_preamble", False)

    @abstractmethod
    def build_params(self, request: AgentRequest) -> dict[str, Any]:
        """The API parameters for one request (pure; unit-tested)."""

    @abstractmethod
    def _read(self, stream: Any, response: Any, emit: Emit, handle: StreamHandle) -> None:
        """Blocking: emit the events of an answer's stream (`response` holds it) until it ends."""

    def _invoke(self, request: AgentRequest, emit: Emit, handle: StreamHandle) -> None:
        """Blocking: call the agent and emit its events; report failures as `AgentFailure`."""
        call = getattr(self._client, self.api.operation)
        try:
            response = call(**self.build_params(request))
        except (ClientError, BotoCoreError) as exc:
            emit(self.api.classify(exc))
            return
        stream = response[self.api.stream]
        handle.attach(lambda: abort_stream(stream))  # wakes the read when the loop gives up
        self._read(stream, response, emit, handle)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def stream(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        for attempt in range(self._retry.attempts):
            text_sent = False
            retry_failure: AgentFailure | None = None
            async for event in self._attempt(request):
                is_last_try = attempt + 1 >= self._retry.attempts
                if (
                    isinstance(event, AgentFailure)
                    and not text_sent
                    and not is_last_try
                    and event.kind in _RETRYABLE
                ):
                    retry_failure = event
                    break
                text_sent = text_sent or isinstance(event, TextDelta)
                yield event
            if retry_failure is None:
                return
            delay = self._retry.delay(attempt)
            log.warning(
                "agent call failed before any text; retrying",
                extra={"code": retry_failure.code, "attempt": attempt + 1, "delay_s": delay},
            )
            await asyncio.sleep(delay)

    async def _attempt(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        inbox = _Inbox(asyncio.get_running_loop())
        handle = StreamHandle()

        def emit(item: Any) -> None:
            if not handle.cancelled.is_set() and not inbox.put(item):
                handle.cancelled.set()  # the loop closed under us (shutdown): nobody listens

        def run() -> None:
            if handle.cancelled.is_set():
                return  # the answer was given up while this waited for a worker: no call
            emit(HEARTBEAT)  # the idle clock starts now, not while queued for a thread
            try:
                self._invoke(request, emit, handle)
            except Exception as exc:  # a bug in a backend must end this answer, not the thread
                log.exception("agent backend crashed")
                emit(AgentFailure(FailureKind.UNKNOWN, type(exc).__name__))
            finally:
                emit(_END)

        worker = asyncio.get_running_loop().run_in_executor(self._executor, run)
        try:
            while True:
                try:
                    batch = await inbox.take(within=self._idle_timeout)
                except TimeoutError:
                    yield AgentFailure(FailureKind.TIMEOUT, "idle_timeout")
                    return
                for item in _merge_text(batch):
                    if item is _END:
                        return
                    if item is HEARTBEAT:
                        continue
                    yield item
                    if isinstance(item, AgentFailure):
                        return
        finally:
            handle.cancel()
            worker.add_done_callback(_log_worker_error)


class _Inbox:
    """Hands events from a worker thread to the event loop, waking the loop once per batch.

    Hundreds of streams each delivering chunks would otherwise mean a cross-thread wake-up
    (a self-pipe write and a loop iteration) per chunk; when the loop is busy, chunks that
    arrived meanwhile are taken together, and text right after a batch waits for a timer the
    loop already holds (`_COALESCE_SECONDS`) instead of waking it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._scheduled = False
        self._timer_armed = False  # the loop looks again within _COALESCE_SECONDS anyway
        self._ready = asyncio.Event()

    def put(self, item: Any) -> bool:
        """From the worker thread; False when the event loop is gone."""
        with self._lock:
            self._items.append(item)
            if self._scheduled or (self._timer_armed and isinstance(item, TextDelta)):
                return True
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:
            return False
        return True

    async def take(self, *, within: float) -> list[Any]:
        async with asyncio.timeout(within):
            await self._ready.wait()
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
            self._ready.clear()
            if not self._timer_armed:
                self._timer_armed = True
                self._loop.call_later(_COALESCE_SECONDS, self._look_again)
        return items

    def _look_again(self) -> None:
        """On the loop: hand over text that arrived since the last batch, if any."""
        with self._lock:
            self._timer_armed = False
            if self._items and not self._scheduled:
                self._scheduled = True
                self._ready.set()


def _merge_text(batch: list[Any]) -> list[Any]:
    """Adjacent text deltas of one batch become one: fewer appends, same text."""
    merged: list[Any] = []
    for item in batch:
        if merged and isinstance(item, TextDelta) and isinstance(merged[-1], TextDelta):
            merged[-1] = TextDelta(merged[-1].text + item.text)
        else:
            merged.append(item)
    return merged


def _log_worker_error(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("agent worker thread failed", exc_info=future.exception())
