"""`FakeSlack`: a Slack Web API server on 127.0.0.1 for tests, with fault switches.

Point the bot at it with `AsyncWebClient(token=fake.token, base_url=fake.api_url)`. State and
method semantics live in `slack_state`; this module adds HTTP, auth, faults and rate limits.

Error codes follow Slack: missing token `not_authed`, wrong token `invalid_auth`, unknown method
`unknown_method`, 429 + `Retry-After` with `ratelimited`. See `SlackState` for the rest.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from tests.fakes.server import LocalServer
from tests.fakes.slack_oauth import FakeOAuth
from tests.fakes.slack_state import (
    Call,
    Json,
    Message,
    SlackError,
    SlackState,
    blocks_text,
    validate_blocks,
)

__all__ = ["Call", "FakeSlack", "Message", "SlackError"]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class _Fault:
    error: str
    status: int
    remaining: int
    retry_after: int | None = None  # set → answer 429 with this Retry-After


@dataclass
class _RawFault:
    """An answer that is not Slack's JSON: an edge's HTML error page, an empty or cut-off body."""

    status: int
    body: str
    content_type: str
    remaining: int


HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} Server Error</title></head>"
    "<body><h1>Server Error</h1><p>Slack is having trouble. Please try again.</p></body></html>"
)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class FakeSlack(SlackState, LocalServer):
    """A fake Slack workspace speaking the Web API at `POST|GET /api/{method}`.

    Fault switches: `fail`, `fail_raw` (HTML 5xx pages, empty or cut-off bodies), `rate_limit`,
    `set_limits`, `expire_stream`,
    `streaming_enabled = False` (chat.startStream answers `streaming_error`, by default
    `unknown_method`, "This method is currently not available."), `latency`.
    """

    def __init__(
        self,
        *,
        token: str = "xoxb-test",
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
    ) -> None:
        SlackState.__init__(self, team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id)
        LocalServer.__init__(self)
        self.token = token
        self.calls: list[Call] = []
        self.responses: dict[str, list[Json]] = {}
        self.latency = 0.0
        self.rate_limited = 0
        self.clock: Callable[[], float] = time.monotonic  # drives set_limits buckets only
        self._faults: dict[str, deque[_Fault]] = {}
        self._limits: dict[str, tuple[float, int]] = {}
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._per_channel: frozenset[str] = frozenset()
        self._disconnects: dict[str, int] = {}
        self._raw_faults: dict[str, deque[_RawFault]] = {}
        self.app_token = "xapp-test"
        self._socket: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()
        self._acks: dict[str, asyncio.Future[Json]] = {}
        self._changed = asyncio.Condition()
        self._windows: list[tuple[frozenset[str], float, float, int]] = []
        self._retry_after_until: dict[tuple[str, str], float] = {}
        self.calls_inside_retry_after = 0  # calls made to a method before its Retry-After passed
        self.oauth = FakeOAuth()  # OAuth install, oauth.v2.access, per-workspace tokens

    @property
    def api_url(self) -> str:
        """Base URL for `AsyncWebClient(base_url=...)`."""
        return f"{self.url}/api/"

    def response_url(self, id: str) -> str:
        """A slash-command `response_url` that records posts under `responses[id]`."""
        return f"{self.url}/response/{id}"

    def responses_visible(self, id: str) -> list[str]:
        """What the user sees of each post to `response_url(id)`: its blocks' text when they
        hold text (`text` is then only the notification fallback), else `text`."""
        return [
            blocks_text(body.get("blocks") or []) or body.get("text", "")
            for body in self.responses.get(id, [])
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/api/{method}", self._on_api),
            web.post("/response/{id}", self._on_response_url),
            web.get("/socket", self._on_socket),
            web.get("/oauth/v2/authorize", self._on_authorize),
        ]

    # -- fault switches ----------------------------------------------------------------------

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        """The next `times` calls to `method` answer `{"ok": false, "error": error}`."""
        self._faults.setdefault(method, deque()).append(_Fault(error, status, times))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls to `method` answer 429 + Retry-After, error `ratelimited`."""
        fault = _Fault("ratelimited", 429, times, retry_after)
        self._faults.setdefault(method, deque()).append(fault)

    def refuse_window(
        self, methods: frozenset[str], *, start: float, seconds: float, retry_after: int = 1
    ) -> None:
        """Every call to `methods` between `start` and `start + seconds` (monotonic) answers
        429 + `Retry-After` (a transient limit, as when another app shares the workspace)."""
        self._windows.append((methods, start, start + seconds, retry_after))

    def set_limits(
        self,
        per_minute: dict[str, float],
        *,
        burst: dict[str, int] | None = None,
        per_channel: frozenset[str] = frozenset(),
    ) -> None:
        """Token bucket per (team, method); key "*" covers other methods. Burst defaults to 1.

        Time comes from `self.clock` (monotonic; replace it to step time in tests).
        `set_limits({})` switches limits off. Refused calls count in `rate_limited`.
        """
        burst = burst or {}
        self._limits = {m: (rate / 60.0, burst.get(m, 1)) for m, rate in per_minute.items()}
        # chat.postMessage is limited per channel (about 1 a second), not per workspace.
        self._per_channel = per_channel
        self._buckets.clear()

    async def socket_send(self, kind: str, payload: Json, *, within: float = 5.0) -> Json:
        """Deliver an envelope over Socket Mode (`events_api`, `slash_commands`, `interactive`)
        and return the app's acknowledgement."""
        async with asyncio.timeout(within):
            await self._socket_ready.wait()
        assert self._socket is not None
        envelope_id = f"env-{len(self._acks) + 1}"
        ack: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload}
        await self._socket.send_json(envelope | {"accepts_response_payload": kind != "events_api"})
        async with asyncio.timeout(within):
            return await ack

    async def _on_socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {}})
        self._socket_ready.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                future = self._acks.get(str(data.get("envelope_id")))
                if future is not None and not future.done():
                    future.set_result(data)
        self._socket_ready.clear()
        return socket

    def fail_raw(
        self,
        method: str,
        *,
        status: int = 502,
        body: str | None = None,
        content_type: str = "text/html",
        times: int = 1,
    ) -> None:
        """The next `times` calls to `method` ("*": any method) are not applied and answer
        `status` with `body` instead of Slack's JSON — by default the HTML error page Slack's
        edge serves; `body=""` or a cut-off `'{"ok": tr'` with application/json work too."""
        page = HTML_ERROR_PAGE.format(status=status) if body is None else body
        fault = _RawFault(status, page, content_type, times)
        self._raw_faults.setdefault(method, deque()).append(fault)

    def clear_faults(self) -> None:
        """Forget every pending `fail`, `rate_limit`, `refuse_window` and `fail_raw`: Slack is
        healthy again."""
        self._faults.clear()
        self._windows.clear()
        self._raw_faults.clear()

    def _take_raw_fault(self, method: str) -> _RawFault | None:
        for key in (method, "*"):
            queue = self._raw_faults.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
                return fault
        return None

    def disconnect_after(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls to `method` are applied, then the connection is cut."""
        self._disconnects[method] = self._disconnects.get(method, 0) + times

    def delete_message(self, channel: str, ts: str) -> None:
        """Someone deleted the message in Slack: later updates get message_not_found."""
        self.messages[(channel, ts)].deleted = True

    def expire_stream(self, channel: str, ts: str) -> None:
        """Close a stream server-side: later append/stop get `message_not_in_streaming_state`."""
        msg = self.messages[(channel, ts)]
        msg.streaming, msg.expired = False, True

    # -- queries -----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls to one method, in arrival order."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline by default keeps tests from hanging
    ) -> None:
        """Wait until `predicate()` holds; it is re-checked after every recorded call."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            msg = f"condition not met within {timeout}s; recent calls:\n{self.describe_calls()}"
            raise TimeoutError(msg) from None

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - same deadline-by-default reasoning
    ) -> list[Call]:
        """Wait until `method` was called at least `count` times; return those calls."""
        await self.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
        return self.calls_to(method)

    def describe_calls(self, last: int = 20) -> str:
        """Readable dump of the most recent calls (used in timeout errors)."""
        if not self.calls:
            return "  (no calls)"
        start = self.calls[0].at
        lines = []
        for c in self.calls[-last:]:
            args = json.dumps(c.args, default=str)
            args = args if len(args) <= 160 else args[:157] + "..."
            outcome = "ok" if c.ok else c.error
            lines.append(f"  +{c.at - start:.3f}s {c.method} {args} -> {c.status} {outcome}")
        return "\n".join(lines)

    # -- HTTP --------------------------------------------------------------------------------

    async def _on_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        answer: tuple[int, Json, dict[str, str]] | None = None
        try:
            args = await _read_args(request)
        except SlackError as err:
            args, answer = {}, (err.status, err.body(), {})
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token = token or str(args.pop("token", "") or "")
        args.pop("token", None)
        if self.latency:
            await asyncio.sleep(self.latency)
        raw = self._take_raw_fault(method) if answer is None else None
        if raw is not None:
            error = {"ok": False, "error": f"raw_http_{raw.status}"}
            await self._record(Call(method, args, time.monotonic(), error, raw.status))
            return web.Response(status=raw.status, text=raw.body, content_type=raw.content_type)
        if method == "oauth.v2.access":
            await self.oauth.before_access(args)
            answer = answer or (200, self.oauth.access(args, auth), {})
        status, body, headers = answer or self._answer(method, args, token)
        await self._record(Call(method, args, time.monotonic(), body, status, token))
        if self._disconnects.get(method, 0) > 0 and request.transport is not None:
            # Applied, but the client never hears back: the connection breaks mid-call.
            self._disconnects[method] -= 1
            request.transport.abort()
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, method: str, args: Json, token: str) -> tuple[int, Json, dict[str, str]]:
        if method == "apps.connections.open":  # Socket Mode: authenticated by the app token
            if token != self.app_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            socket_url = self.url.replace("http://", "ws://") + "/socket"
            return 200, {"ok": True, "url": socket_url}, {}
        if not self.knows(method):
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.token:
            problem = self.oauth.problem(token)  # a token an OAuth install handed out?
            if problem is not None:
                return 200, {"ok": False, "error": problem}, {}
            if method == "auth.test":
                return 200, self.oauth.auth_test(token, args), {}
        now, limited = time.monotonic(), (str(args.get("team_id") or self.team_id), method)
        if now < self._retry_after_until.get(limited, 0.0):
            self.calls_inside_retry_after += 1
        wait = self._throttle(method, args) or self._in_window(method, now)
        fault = None if wait else self._take_fault(method)
        if fault is not None and fault.retry_after is not None:
            wait = fault.retry_after
        if wait:
            self.rate_limited += 1
            self._retry_after_until[limited] = now + wait
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
        if fault is not None:
            return fault.status, {"ok": False, "error": fault.error}, {}
        workspace = self.oauth.workspace_of(token) if token != self.token else None
        self.speaker = workspace.bot_user_id if workspace is not None else None
        try:
            return 200, self.handle(method, args), {}
        except SlackError as err:
            return err.status, err.body(), {}
        finally:
            self.speaker = None

    def _in_window(self, method: str, now: float) -> int:
        for methods, start, end, retry_after in self._windows:
            if method in methods and start <= now < end:
                return retry_after
        return 0

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault

    def _throttle(self, method: str, args: Json) -> int:
        """0 if a token was taken, else whole seconds (≥1) until one is available."""
        limit = self._limits.get(method) or self._limits.get("*")
        if limit is None:
            return 0
        rate, burst = limit
        now = self.clock()
        key: tuple[str, ...] = (str(args.get("team_id") or self.team_id), method)
        if method in self._per_channel:
            key = (*key, str(args.get("channel")))
        bucket = self._buckets.setdefault(key, _Bucket(float(burst), now))
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return 60 if rate <= 0 else max(1, math.ceil((1 - bucket.tokens) / rate))

    async def _on_authorize(self, request: web.Request) -> web.Response:
        """Slack's consent page, approved at once by the admin of `oauth.next_install`."""
        status, where = self.oauth.authorize(dict(request.query))
        await self._record(
            Call(
                "oauth/v2/authorize",
                dict(request.query),
                time.monotonic(),
                {"ok": status == 302},
                status,
            )
        )
        if status != 302:
            return web.Response(status=status, text=where)
        raise web.HTTPFound(where)

    async def _on_response_url(self, request: web.Request) -> web.Response:
        id = request.match_info["id"]
        try:
            body = await _read_args(request)
        except SlackError as err:
            body = {"error": err.error}
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._take_fault("response_url") or _refusal(body)
        status = fault.status if fault else 200
        if fault is None:
            self.responses.setdefault(id, []).append(body)
        answer: Json = {"ok": fault is None} | ({"error": fault.error} if fault else {})
        await self._record(
            Call("response_url", {**body, "id": id}, time.monotonic(), answer, status)
        )
        return web.Response(status=status, text=fault.error if fault else "ok")

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()


def _refusal(body: Json) -> _Fault | None:
    """A response_url message Slack would refuse: invalid blocks, or nothing to show. Its
    documented fields are text, blocks and attachments — `markdown_text` is not one of them."""
    try:
        validate_blocks(body.get("blocks") or [])
    except SlackError as err:
        return _Fault(err.error, status=400, remaining=0)
    if not (body.get("text") or body.get("blocks") or body.get("attachments")):
        return _Fault("no_text", status=400, remaining=0)
    return None


async def _read_args(request: web.Request) -> Json:
    """Query params merged with a JSON or form body; None values dropped."""
    args: Json = dict(request.query)
    if request.can_read_body:
        if request.content_type in FORM_TYPES:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            raw = await request.text()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(body, dict):
                raise SlackError("invalid_json")
            args.update(body)
    return {k: v for k, v in args.items() if v is not None}
