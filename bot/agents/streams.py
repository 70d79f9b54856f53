"""The worker-thread side of a streamed answer: reading a botocore stream until it ends.

A blocked read is woken by `StreamHandle.cancel` (from the event loop); a stream that breaks
mid-way ends the answer as a failure, unless the event loop cancelled it itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError

from bot.events import AgentEvent, AgentFailure, FailureKind

log = logging.getLogger(__name__)

Emit = Callable[[Any], None]  # an AgentEvent, or HEARTBEAT
# Emitted for stream events that carry nothing for the user (rationale, tool calls): the
# agent is alive, so the idle timeout starts over.
HEARTBEAT = object()


def abort_stream(event_stream: Any) -> None:
    """Close a botocore event stream so a thread blocked reading it wakes up now.

    Closing a socket does not wake a thread blocked in recv() on Linux; shutting it down does
    (urllib3 2.x `HTTPResponse.shutdown`, meant for exactly this).
    """
    raw = getattr(event_stream, "_raw_stream", None)
    shutdown = getattr(raw, "shutdown", None)
    if callable(shutdown):
        # ValueError/RuntimeError: already released or closed, so nothing is blocked on it.
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            shutdown()
    event_stream.close()


class StreamHandle:
    """Lets the event loop stop a worker thread that is blocked reading a stream."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self._closer: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def attach(self, closer: Callable[[], None]) -> None:
        with self._lock:
            self._closer = closer
        if self.cancelled.is_set():
            self._close()

    def cancel(self) -> None:
        self.cancelled.set()
        self._close()

    def _close(self) -> None:
        with self._lock:
            closer, self._closer = self._closer, None
        if closer is not None:
            try:
                closer()
            except Exception:  # closing a half-dead socket may raise; the thread ends either way
                log.debug("closing agent stream failed", exc_info=True)


class StreamReader(Protocol):
    """Turns a typed event stream's raw events into agent events (pure, per answer)."""

    def feed(self, raw: Any) -> list[AgentEvent]: ...

    def close(self) -> list[AgentEvent]: ...


def pump_events(
    stream: Any,
    reader: StreamReader,
    emit: Emit,
    handle: StreamHandle,
    *,
    on_error: Callable[[ClientError], AgentFailure],
) -> None:
    """Read a botocore event stream in the worker thread, through `reader`, until it ends.

    An exception event after HTTP 200 arrives as a ClientError (EventStreamError); a dropped
    connection as whatever urllib3/botocore raise: both end the answer as a failure, unless
    the event loop cancelled the stream itself.
    """
    try:
        for raw in stream:
            if handle.cancelled.is_set():
                return
            for event in reader.feed(raw) or (HEARTBEAT,):
                emit(event)
        for event in reader.close():
            emit(event)
    except ClientError as exc:
        emit(on_error(exc))
    except Exception as exc:
        emit_broken(exc, emit, handle)


def emit_broken(exc: Exception, emit: Emit, handle: StreamHandle) -> None:
    """A stream that broke mid-way (urllib3/botocore errors of a dropped connection) ends the
    answer as interrupted, or timed out; not when the event loop cancelled it itself."""
    if not handle.cancelled.is_set():
        kind = FailureKind.TIMEOUT if "Timeout" in type(exc).__name__ else None
        emit(AgentFailure(kind or FailureKind.INTERRUPTED, type(exc).__name__))
