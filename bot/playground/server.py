"""The playground's HTTP side: the page, its feed, its actions, and the Slack Web API the bot
calls (`/api/{method}`, `/response/{key}`), all on one loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.playground.composer import parse_composer
from bot.playground.deliver import (
    BotDoor,
    Click,
    block_actions,
    home_opened,
    message_events,
    slash_command,
)
from bot.playground.feed import FeedEvent
from bot.playground.model import CHANNEL_ID, DM_ID, ApiError, ResponseTarget
from bot.playground.page import page_html
from bot.playground.workspace import Workspace

log = logging.getLogger(__name__)

Json = dict[str, Any]
STATIC = Path(__file__).parent / "static"
KEEPALIVE_SECONDS = 15.0
_VIEWS = {"channel": CHANNEL_ID, "dm": DM_ID}
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What the page says about the bot it runs: which agent, which command."""

    agent_label: str
    demo: bool
    order_command: str


class PlaygroundServer:
    """Serves the page and plays Slack for the bot; `connect` tells it where the bot listens."""

    def __init__(
        self,
        *,
        token: str,
        workspace: Workspace,
        facts: PageFacts,
        hosts: frozenset[str] = LOOPBACK_NAMES,
    ) -> None:
        self.token = token
        self.hosts = hosts  # the Host names it answers to; empty: any (bound beyond loopback)
        self.workspace = workspace
        self.facts = facts
        self.url = ""  # set once listening: response_urls point here
        self._door: BotDoor | None = None
        self._bot_url = ""
        self._http: aiohttp.ClientSession | None = None
        self._streams: set[asyncio.Task[Any]] = set()

    def connect(self, *, http: aiohttp.ClientSession, bot_url: str, secret: str) -> None:
        self._http = http
        self._bot_url = bot_url
        self._door = BotDoor(http=http, url=f"{bot_url}/slack/events", secret=secret)

    def close_streams(self) -> None:
        """Open feeds would hold the server's shutdown: end them."""
        for task in self._streams:
            task.cancel()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024**2, middlewares=[self._host_check])
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/feed", self._feed)
        app.router.add_post("/playground/send", self._send)
        app.router.add_post("/playground/click", self._click)
        app.router.add_post("/playground/open", self._open)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        for path in ("/metrics", "/healthz", "/readyz"):
            app.router.add_get(path, self._proxy)
        return app

    @web.middleware
    async def _host_check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Another site's name resolving to 127.0.0.1 (DNS rebinding) must not read the page."""
        name = (request.url.host or "").strip("[]").lower()
        if self.hosts and name not in self.hosts:
            return web.Response(status=403, text="unknown Host; open the playground's own address")
        return await handler(request)

    # -- the page ------------------------------------------------------------------------------

    async def _index(self, _: web.Request) -> web.Response:
        facts = self.facts
        body = page_html(
            agent_label=facts.agent_label, demo=facts.demo, command=facts.order_command
        )
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        feed = self.workspace.feed
        seen_header = request.headers.get("Last-Event-ID", "")
        seen = int(seen_header) if seen_header.isdigit() else None
        try:
            batch = feed.after(seen) if seen is not None else None
            while True:
                if batch is None:
                    seen = feed.last_id
                    await response.write(FeedEvent(seen, "reset", {}).sse())
                    for kind, data in self.workspace.snapshot():
                        await response.write(FeedEvent(seen, kind, data).sse())
                elif batch:
                    for event in batch:
                        await response.write(event.sse())
                    seen = batch[-1].id
                else:
                    await response.write(b": keep-alive\n\n")
                assert seen is not None
                batch = await feed.wait_after(seen, within=KEEPALIVE_SECONDS)
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page went away, or the server stops
        finally:
            self._streams.discard(task)
        return response

    async def _send(self, request: web.Request) -> web.Response:
        data = await _json(request)
        channel = _VIEWS.get(str(data.get("view")))
        thread_ts = data.get("thread_ts") or None
        text = data.get("text")
        if channel is None or not isinstance(text, str) or not isinstance(thread_ts, str | None):
            return web.json_response({"ok": False, "error": "bad_request"}, status=400)
        typed = parse_composer(text)
        if typed is None:
            return web.json_response({"ok": False, "error": "empty"}, status=400)
        if typed.command is not None:
            await self._command(typed.command, typed.text, channel=channel)
            return web.json_response({"ok": True})
        message = self.workspace.post_user_message(channel, typed.text, thread_ts)
        kind = "im" if channel == DM_ID else "channel"
        for event in message_events(message, channel_type=kind, mentions_bot=typed.mentions_bot):
            await self._door_or_fail().event(event)
        return web.json_response({"ok": True, "ts": message.ts})

    async def _command(self, command: str, text: str, *, channel: str) -> None:
        target = ResponseTarget(channel, None, label=f"{command} {text}".strip())
        key = self.workspace.add_response_url(target)
        if command != self.facts.order_command:
            note = f"`{command}` is not a command of this app. Try `{self.facts.order_command} ORD-88421`."
            self.workspace.respond(key, {"text": note})
            return
        body = slash_command(command, text, channel=channel, response_url=self._response_url(key))
        status, ack = await self._door_or_fail().form(body)
        if status != 200:
            self.workspace.respond(key, {"text": f"The app did not respond (HTTP {status})."})
        elif ack and key not in self.workspace.replaces:
            self.workspace.respond(key, ack)  # "Looking up…", unless the answer beat it here

    async def _click(self, request: web.Request) -> web.Response:
        data = await _json(request)
        try:
            click = Click(**{name: str(data[name]) for name in Click.__slots__})
        except (KeyError, TypeError):
            return web.json_response({"ok": False, "error": "bad_request"}, status=400)
        message = self.workspace.messages.get((click.channel, click.message_ts))
        if message is None or message.deleted:
            return web.json_response({"ok": False, "error": "message_not_found"}, status=404)
        target = ResponseTarget(click.channel, message.thread_ts)
        key = self.workspace.add_response_url(target, replaces=message.ts)
        body = block_actions(click, message, response_url=self._response_url(key))
        status, _ = await self._door_or_fail().form(body)
        return web.json_response({"ok": status == 200}, status=200 if status == 200 else 502)

    async def _open(self, request: web.Request) -> web.Response:
        data = await _json(request)
        if data.get("view") == "dm":
            # Slack sends this on every visit to the app's Messages tab.
            await self._door_or_fail().event(home_opened(DM_ID))
        return web.json_response({"ok": True})

    async def _proxy(self, request: web.Request) -> web.Response:
        """/metrics, /healthz and /readyz of the bot, on the page's port too."""
        if self._http is None:
            return web.json_response({"ok": False, "error": "starting"}, status=503)
        async with self._http.get(f"{self._bot_url}{request.path}") as answer:
            body = await answer.read()
            kind = answer.headers.get("Content-Type", "text/plain")
        return web.Response(body=body, status=answer.status, headers={"Content-Type": kind})

    # -- Slack's side ----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        args: Json = dict(request.query)
        if request.can_read_body:
            if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                with contextlib.suppress(ValueError):
                    body = json.loads(await request.text() or "{}")
                    args.update(body if isinstance(body, dict) else {})
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(args.pop("token", "") or "")
        args.pop("token", None)
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        args = {k: v for k, v in args.items() if v is not None}
        try:
            return web.json_response(self.workspace.call(request.match_info["method"], args))
        except ApiError as exc:
            return web.json_response({"ok": False, "error": exc.code})

    async def _response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key not in self.workspace.responses:
            return web.Response(status=404, text="no_such_response_url")
        body = await _json(request)
        self.workspace.respond(key, body)
        return web.Response(text="ok")

    def _response_url(self, key: str) -> str:
        return f"{self.url}/response/{key}"

    def _door_or_fail(self) -> BotDoor:
        if self._door is None:
            raise web.HTTPServiceUnavailable(text="the bot is still starting")
        return self._door


async def _json(request: web.Request) -> Json:
    # JSON only: a page on another site cannot send it without a CORS preflight we never grant.
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    try:
        data = json.loads(await request.text() or "{}")
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="expected a JSON object") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return data
