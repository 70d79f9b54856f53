"""The HTTP front door: what a request must be before Bolt sees it, and how long it may take.

Bolt and slack_sdk assume a well-formed request: `int()` of the timestamp header, `str` of the
body, an `event` that is an object. Anything else raised inside them and became a 500 with a
traceback. So the request is screened here first (a pure decision, `screen`), and the ways a
client can hold a connection are bounded (`ConnectionGuard`): complete headers within the
keep-alive timeout (aiohttp closes a connection that has not sent a full request by then), the
body within `read_timeout`, and at most `max_slow` connections that are still reading at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from bot.limits import MAX_CLOCK_SKEW_SECONDS, SLOW_AFTER_SECONDS

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # whole seconds, as Slack sends them; no "1e9", no "-1"


@dataclass(frozen=True, slots=True)
class Rejected:
    """Answer the request with `status` and nothing else; Bolt never sees it."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Admitted:
    """A signed request with a UTF-8 body; `ignore` when it is signed but carries nothing usable
    (an event callback whose `event` is not an object): acknowledged with 200 so Slack stops
    retrying, but not processed."""

    body: str
    ignore: bool = False


def screen(
    headers: Mapping[str, str], body: bytes, *, secret: str | None, now: float
) -> Admitted | Rejected:
    """Decide what to do with one POST to /slack/events (pure; never raises)."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "").strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        return Rejected(401, "invalid timestamp")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return Rejected(401, "stale timestamp")
    if secret is None or not _signature_valid(headers, body, timestamp, secret):
        return Rejected(401, "invalid signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Rejected(400, "body is not UTF-8")
    content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        return Admitted(text)  # form bodies (commands, interactivity): Bolt parses, we guard
    try:
        document: Any = json.loads(text)
    except ValueError:
        return Rejected(400, "body is not JSON")
    if not isinstance(document, dict):
        return Rejected(400, "body is not a JSON object")
    return Admitted(text, ignore=without_event(document))


def without_event(document: Any) -> bool:
    """An Events API callback whose `event` is not an object: nothing to act on, and Bolt's
    middleware would raise on it (HTTP and Socket Mode alike)."""
    if not isinstance(document, dict):
        return True
    return document.get("type") == "event_callback" and not isinstance(document.get("event"), dict)


def _signature_valid(headers: Mapping[str, str], body: bytes, timestamp: str, secret: str) -> bool:
    # Signed over the raw bytes, so a body that is not UTF-8 still verifies (and then gets 400).
    expected = hmac.new(
        secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    given = headers.get("X-Slack-Signature", "")
    return hmac.compare_digest(f"v0={expected}".encode(), given.encode(errors="replace"))


class ConnectionGuard:
    """Bounds how long and how many connections may sit reading a request.

    A connection is "slow" once it has spent `SLOW_AFTER_SECONDS` without a request being
    processed (still sending headers or body, or idle); when `max_slow` are, the oldest is closed
    to make room, so a flood of trickling clients cannot exhaust file descriptors or keep Slack
    out. Young connections never count: a burst of Slack requests connecting at once is fine.
    """

    def __init__(self, *, read_timeout: float, max_slow: int) -> None:
        self.read_timeout = read_timeout
        self._max_slow = max_slow
        self._since: dict[RequestHandler, float] = {}  # when each began waiting for a request
        self._fast: set[RequestHandler] = set()
        self.closed_slow = 0

    def runner_options(self) -> dict[str, Any]:
        """aiohttp server settings: headers must be complete within the keep-alive timeout (it
        also runs before the first request), and an unread body is not waited for long."""
        return {"keepalive_timeout": self.read_timeout, "lingering_time": 1.0}

    def protocol_factory(self, server: Callable[[], RequestHandler]) -> Callable[[], Any]:
        def factory() -> RequestHandler:
            self._make_room(time.monotonic())
            handler = server()
            self._since[handler] = time.monotonic()
            return handler

        return factory

    def _make_room(self, now: float) -> None:
        slow: list[tuple[float, RequestHandler]] = []
        for handler, since in list(self._since.items()):
            if now - since < SLOW_AFTER_SECONDS or handler in self._fast:
                continue
            if handler.transport is None:  # closed (a new one has its transport by now)
                del self._since[handler]
            else:
                slow.append((since, handler))
        excess = len(slow) - self._max_slow + 1
        if excess <= 0:
            return
        log.warning("too many slow connections: closing the oldest", extra={"slow": len(slow)})
        for _, handler in sorted(slow, key=lambda pair: pair[0])[:excess]:
            self.closed_slow += 1
            handler.force_close()
            del self._since[handler]

    @contextmanager
    def processing(self, request: web.BaseRequest) -> Iterator[None]:
        """The request was read in full: its connection is not slow while it is answered."""
        handler = request.protocol
        if not isinstance(handler, RequestHandler):
            yield
            return
        self._fast.add(handler)
        try:
            yield
        finally:
            self._fast.discard(handler)
            if handler in self._since:
                self._since[handler] = time.monotonic()  # idle from now on (keep-alive)

    async def read_body(self, request: web.BaseRequest) -> bytes | None:
        """The whole body, or None when it did not arrive within `read_timeout`."""
        try:
            async with asyncio.timeout(self.read_timeout):
                return await request.read()
        except TimeoutError:
            return None


class GuardedSite(web.TCPSite):
    """A TCPSite whose connections go through a `ConnectionGuard`."""

    def __init__(self, runner: web.AppRunner, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(runner, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]
