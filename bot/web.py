"""The HTTP side: the Slack events endpoint behind the front door, health, readiness, metrics."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from bot.http_guard import ConnectionGuard, Rejected, screen
from bot.installations.oauth import add_oauth_routes
from bot.memory import probe
from bot.metrics import CONTENT_TYPE
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger("bot.app")


@dataclass
class Health:
    """What /readyz reports; updated by start-up checks and the Redis probe."""

    slack_ok: bool = False
    draining: bool = False
    socket_connected: Callable[[], Awaitable[bool]] | None = None  # set in Socket Mode


async def warm_up(app: AsyncApp, services: Services, health: Health) -> None:
    """Check the token once at start-up and hand the result to Bolt, so no ack waits on it."""
    if services.settings.oauth_mode:  # tokens are per workspace, checked as they are installed
        health.slack_ok = True
        return
    try:
        auth = await services.client.auth_test()
    except SlackApiError as exc:
        log.error("Slack auth.test failed", extra={"slack_error": exc.response.get("error")})
        return
    except Exception as exc:
        log.error("Slack is unreachable", extra={"error": type(exc).__name__})
        return
    health.slack_ok = True
    for middleware in app._async_middleware_list:
        if isinstance(middleware, AsyncSingleTeamAuthorization):
            middleware.auth_test_result = auth
    log.info(
        "connected to Slack",
        extra={"team_id": auth.get("team_id"), "bot_user_id": auth.get("user_id")},
    )


Handler = Callable[[web.Request], Awaitable[web.Response]]


def build_web_app(
    app: AsyncApp, services: Services, health: Health, guard: ConnectionGuard | None = None
) -> web.Application:
    guard = guard or connection_guard(services.settings)
    slack = slack_endpoint(app, services, health, guard)

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await slack(request)
        finally:
            services.metrics.ack.observe(time.perf_counter() - started)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=services.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    web_app = web.Application(client_max_size=1024**2)
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readiness(services, health))
    web_app.router.add_get("/metrics", metrics)
    if services.settings.oauth_mode:
        add_oauth_routes(web_app, app)
    return web_app


def slack_endpoint(
    app: AsyncApp, services: Services, health: Health, guard: ConnectionGuard
) -> Handler:
    """POST /slack/events: the front door screens the request before Bolt sees it."""
    secret = services.settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret is not None else None

    async def handle_slack_request(request: web.Request) -> web.Response:
        if health.draining:
            return web.json_response({"ok": False, "error": "shutting_down"}, status=503)
        raw = await guard.read_body(request)
        if raw is None:  # a body trickling in: cut off, never held open
            response = web.json_response({"error": "request body too slow"}, status=408)
            response.force_close()
            return response
        # Timestamp, signature, encoding and shape before parsing: junk never reaches Bolt.
        verdict = screen(request.headers, raw, secret=signing_secret, now=time.time())
        if isinstance(verdict, Rejected):
            return web.json_response({"error": verdict.reason}, status=verdict.status)
        if verdict.ignore:
            log.info("signed event without an event object ignored")
            return web.Response(status=200)
        try:
            with guard.processing(request):
                bolt_request = AsyncBoltRequest(
                    body=verdict.body, query=request.query_string, headers=dict(request.headers)
                )
                bolt_response = await app.async_dispatch(bolt_request)
        except Exception as exc:  # malformed payloads must never become a 500 with a traceback
            log.warning("malformed Slack request rejected", extra={"error": type(exc).__name__})
            return web.json_response({"error": "malformed request"}, status=400)
        if bolt_response.status >= 500:
            # Bolt answers 500 when a payload breaks its middleware: that is bad input here.
            log.warning("malformed Slack request rejected", extra={"error": "bolt_500"})
            return web.json_response({"error": "malformed request"}, status=400)
        if bolt_response.status == 404:
            # No listener wanted it (an event type or subtype we ignore): acknowledge anyway,
            # or Slack retries it and eventually disables the subscription.
            return web.Response(status=200)
        return await to_aiohttp_response(bolt_response)

    return handle_slack_request


def readiness(services: Services, health: Health) -> Handler:
    """GET /readyz: Redis answers, not draining, and (in Socket Mode) connected."""
    readiness_key = f"readyz:{uuid.uuid4().hex}"  # one per process: a keyed write, no PING

    async def readyz(_: web.Request) -> web.Response:
        checks = {"config": "ok", "slack": "ok" if health.slack_ok else "unverified"}
        try:
            await asyncio.wait_for(probe(services.memory, readiness_key), timeout=1.0)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unreachable ({type(exc).__name__})"
        if health.draining:
            checks["shutdown"] = "draining"
        socket_ok = health.socket_connected is None or await health.socket_connected()
        if health.socket_connected is not None:
            checks["socket_mode"] = "connected" if socket_ok else "not connected"
        ready = checks["redis"] == "ok" and not health.draining and socket_ok
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    return readyz


def connection_guard(settings: Settings) -> ConnectionGuard:
    return ConnectionGuard(
        read_timeout=settings.http_read_timeout_seconds,
        max_slow=settings.http_max_slow_connections,
    )
