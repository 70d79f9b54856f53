"""Assembly: build clients and stores once, register handlers, serve HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

import handlers
import handlers.common
from bot.agents import build_backend
from bot.conversation import Pipeline
from bot.memory import close, connect, memory_for, probe, warm
from bot.metrics import CONTENT_TYPE, Metrics
from bot.services import Services
from bot.settings import Settings
from bot.slack_budget import WriteBudget
from bot.takeover import Sweeper, TurnWatch
from handlers.listeners import Listeners

log = logging.getLogger(__name__)

FINAL_WRITES_SECONDS = 10.0  # after the grace period: time to write "interrupted" notes


def build_services(settings: Settings) -> Services:
    """Build every client once; must run inside the event loop (aiohttp needs one)."""
    # One pooled HTTP session: slack_sdk would otherwise open a connection per call.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200, ttl_dns_cache=300))
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=session,
        timeout=30,
        # No automatic resend after a broken connection: Slack may have applied the write.
        # bot/slack_calls.py decides per method what is safe to retry.
        retry_handlers=[],
    )
    if settings.redis_url is None:
        log.warning(
            "REDIS_URL is not set: using an in-process store; conversations are forgotten on "
            "restart and replicas cannot share state"
        )
    memory = memory_for(settings, connect(settings))
    agent = build_backend(settings)
    metrics = Metrics(prices=settings.price_book)
    budget = WriteBudget(
        base_interval=settings.stream_interval,
        publish=memory.publish_slack_block,
        lookup=memory.slack_block,
    )
    budget.on_rate_limited = lambda method: metrics.slack_rate_limited.labels(method=method).inc()
    return Services(
        settings=settings,
        client=client,
        agent=agent,
        memory=memory,
        budget=budget,
        pipeline=Pipeline(
            agent=agent, memory=memory, metrics=metrics, max_active=settings.active_answers_limit
        ),
        metrics=metrics,
        turns=TurnWatch(memory),
    )


def build_bolt_app(services: Services) -> tuple[AsyncApp, Listeners]:
    """The Bolt app with every surface registered, and the record of what they subscribe to."""
    settings = services.settings
    secret = settings.slack_signing_secret
    bolt_logger = logging.getLogger("slack_bolt")
    level = bolt_logger.level
    # Bolt warns that SLACK_BOT_TOKEN (which it reads itself) is unused beside our client.
    bolt_logger.setLevel(logging.ERROR)
    try:
        app = AsyncApp(
            client=services.client,
            signing_secret=secret.get_secret_value() if secret else None,
            # Our HTTP handler verifies signatures before parsing (see build_web_app); Socket
            # Mode needs none. Bolt's per-event assistant helpers are not used: both off.
            request_verification_enabled=False,
            attaching_conversation_kwargs_enabled=False,
            attaching_function_token_enabled=False,
            process_before_response=False,
            logger=bolt_logger,
        )
    finally:
        bolt_logger.setLevel(level)
    return app, handlers.register_handlers(app, services)


@dataclass
class Health:
    """What /readyz reports; updated by start-up checks and the Redis probe."""

    slack_ok: bool = False
    draining: bool = False
    details: dict[str, str] = field(default_factory=dict)


async def warm_up(app: AsyncApp, services: Services, health: Health) -> None:
    """Check the token once at start-up and hand the result to Bolt, so no ack waits on it."""
    try:
        auth = await services.client.auth_test()
    except SlackApiError as exc:
        health.details["slack"] = str(exc.response.get("error"))
        log.error("Slack auth.test failed", extra={"slack_error": exc.response.get("error")})
        return
    except Exception as exc:
        health.details["slack"] = type(exc).__name__
        log.error("Slack is unreachable", extra={"error": type(exc).__name__})
        return
    health.slack_ok = True
    health.details.pop("slack", None)
    for middleware in app._async_middleware_list:
        if isinstance(middleware, AsyncSingleTeamAuthorization):
            middleware.auth_test_result = auth
    log.info(
        "connected to Slack",
        extra={"team_id": auth.get("team_id"), "bot_user_id": auth.get("user_id")},
    )


def build_web_app(app: AsyncApp, services: Services, health: Health) -> web.Application:
    verifier = (
        SignatureVerifier(services.settings.slack_signing_secret.get_secret_value())
        if services.settings.slack_signing_secret is not None
        else None
    )

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await handle_slack_request(request)
        finally:
            services.metrics.ack.observe(time.perf_counter() - started)

    async def handle_slack_request(request: web.Request) -> web.Response:
        if health.draining:
            return web.json_response({"ok": False, "error": "shutting_down"}, status=503)
        body = await request.text()
        # Check the signature before parsing anything: unsigned junk gets 401, nothing more.
        if verifier is None or not verifier.is_valid_request(body, dict(request.headers)):
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=dict(request.headers)
            )
            bolt_response = await app.async_dispatch(bolt_request)
        except Exception as exc:  # malformed payloads must never become a 500 with a traceback
            log.warning("malformed Slack request rejected", extra={"error": type(exc).__name__})
            return web.json_response({"error": "malformed request"}, status=400)
        if bolt_response.status == 404:
            # No listener wanted it (an event type or subtype we ignore): acknowledge anyway,
            # or Slack retries it and eventually disables the subscription.
            return web.Response(status=200)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

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
        ready = checks["redis"] == "ok" and not health.draining
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=services.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    web_app = web.Application(client_max_size=1024**2)
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    return web_app


class Runtime:
    """The running bot: Slack listener, HTTP endpoints, and an orderly stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = build_services(settings)
        self.bolt, self.listeners = build_bolt_app(self.services)
        self.health = Health()
        self._runner: web.AppRunner | None = None
        self._socket_handler: AsyncSocketModeHandler | None = None
        self._lag_watch: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = settings.port

    async def start(self, *, host: str = "0.0.0.0") -> None:
        self._lag_watch = asyncio.create_task(self.services.metrics.watch_event_loop())
        await warm(self.services.memory.redis)
        self._sweeper = asyncio.create_task(self._sweep(), name="takeover-sweeper")
        await warm_up(self.bolt, self.services, self.health)
        self._runner = web.AppRunner(
            build_web_app(self.bolt, self.services, self.health), access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host=host, port=self.settings.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        app_token = self.settings.slack_app_token
        if app_token is not None:
            self._socket_handler = AsyncSocketModeHandler(self.bolt, app_token.get_secret_value())
            await self._socket_handler.connect_async()
            log.info("listening in Socket Mode", extra={"health_port": self.port})
        else:
            log.info("listening for Slack over HTTP", extra={"port": self.port})

    async def stop(self, *, grace: float | None = None) -> None:
        """Stop taking events; answers in flight get `grace` seconds (SHUTDOWN_GRACE_SECONDS),
        then whatever is still streaming ends visibly marked as interrupted."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self.health.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()  # a replica on its way out takes nothing over
        if self._socket_handler is not None:
            await self._socket_handler.close_async()
        pipeline = self.services.pipeline
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pipeline.idle.wait(), grace)
        if not pipeline.idle.is_set():
            log.warning(
                "grace period over: interrupting answers in flight",
                extra={"active": pipeline.active},
            )
            pipeline.interrupt()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pipeline.idle.wait(), FINAL_WRITES_SECONDS)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._lag_watch is not None:
            self._lag_watch.cancel()
        await self.services.agent.aclose()
        if self.services.client.session is not None:
            await self.services.client.session.close()
        await close(self.services.memory.redis)

    def _sweep(self) -> Coroutine[Any, Any, None]:
        services = self.services
        return Sweeper(
            memory=services.memory,
            client=services.client,
            budget=services.budget,
            retake=lambda turn, target, owner: handlers.common.retake(
                services, turn, target, owner
            ),
        ).run()


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`), then let answers in flight finish."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(settings)
    await runtime.start()
    await stop.wait()
    log.info("shutting down: finishing answers in flight")
    await runtime.stop()
    log.info("stopped")
