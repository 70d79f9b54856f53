"""Assembly: build clients and stores once, register handlers, serve HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

import handlers
import handlers.common
from bot.actions.flow import ActionFlow
from bot.actions.registry import load_handlers
from bot.actions.store import PendingStore
from bot.agents import AgentBackend, build_knowledge_base, route_dms
from bot.conversation import Pipeline
from bot.events import HistoryMessage
from bot.history import replay_messages
from bot.http_guard import ConnectionGuard, GuardedSite, Rejected, screen
from bot.installations.agents import build_agents
from bot.installations.oauth import (
    add_oauth_routes,
    build_authorize,
    enable_oauth_mode,
    oauth_app_arguments,
)
from bot.installations.routing import RequestScopedClient
from bot.installations.workspaces import Workspaces
from bot.memory import Memory, close, connect, memory_for, probe, warm
from bot.metrics import CONTENT_TYPE, Metrics
from bot.rag_sessions import RagSessions
from bot.services import Services
from bot.settings import Settings
from bot.slack_budget import WriteBudget
from bot.socket_mode import SocketModeLink
from bot.start_checks import warn_if_redis_unreachable
from bot.takeover import Sweeper, TurnWatch
from handlers.listeners import Listeners

log = logging.getLogger(__name__)

FINAL_WRITES_SECONDS = 10.0  # after the grace period: time to write "interrupted" notes


def build_services(settings: Settings) -> Services:
    """Build every client once; must run inside the event loop (aiohttp needs one)."""
    # One pooled HTTP session: slack_sdk would otherwise open a connection per call.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200, ttl_dns_cache=300))
    # OAuth mode: no token of its own; each call carries its request's workspace token.
    client_type = RequestScopedClient if settings.oauth_mode else AsyncWebClient
    token = settings.slack_bot_token
    client = client_type(
        token=token.get_secret_value() if token is not None else None,
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
    agent = build_agents(settings)  # per-workspace agents when WORKSPACE_AGENTS names some
    if settings.knowledge_base_dms:
        agent = route_dms(agent, knowledge_base_dms(settings, memory))
    metrics = Metrics(prices=settings.price_book)
    # OAuth mode: takeovers and expiry sweeps speak with the workspace of what they finish.
    workspaces = (
        Workspaces(
            authorize=build_authorize(settings, redis=memory.redis, client=client), client=client
        )
        if settings.oauth_mode
        else None
    )
    budget = WriteBudget(
        base_interval=settings.stream_interval,
        publish=memory.publish_slack_block,
        lookup=memory.slack_block,
    )
    budget.on_rate_limited = lambda method: metrics.slack_rate_limited.labels(method=method).inc()
    actions = ActionFlow(
        store=PendingStore(memory.redis, prefix=settings.redis_key_prefix),
        handlers=load_handlers(settings.action_handlers_module),
        metrics=metrics,
        client=client,
        timeout_seconds=settings.confirm_timeout,
        speak_for=workspaces.speaking_for if workspaces is not None else None,
    )
    return Services(
        settings=settings,
        client=client,
        agent=agent,
        memory=memory,
        budget=budget,
        pipeline=Pipeline(
            agent=agent,
            memory=memory,
            metrics=metrics,
            actions=actions,
            max_active=settings.active_answers_limit,
        ),
        metrics=metrics,
        actions=actions,
        turns=TurnWatch(memory),
        workspaces=workspaces,
    )


def knowledge_base_dms(settings: Settings, memory: Memory) -> AgentBackend:
    """The DM answerer, with RAG sessions kept in Redis and the turns memory already has."""

    async def recent(conversation: str) -> list[HistoryMessage]:
        return replay_messages(await memory.history(conversation))

    sessions = RagSessions(
        memory.redis, prefix=settings.redis_key_prefix, ttl_seconds=settings.history_ttl_seconds
    )
    return build_knowledge_base(settings, sessions=sessions, recent=recent)


def build_bolt_app(services: Services) -> tuple[AsyncApp, Listeners]:
    """The Bolt app with every surface registered, and the record of what they subscribe to."""
    settings = services.settings
    secret = settings.slack_signing_secret
    bolt_logger = logging.getLogger("slack_bolt")
    level = bolt_logger.level
    # Bolt warns that SLACK_BOT_TOKEN (which it reads itself) is unused beside our client.
    bolt_logger.setLevel(logging.ERROR)
    oauth = (
        oauth_app_arguments(
            settings,
            redis=services.memory.redis,
            client=services.client,
            authorize=services.workspaces.authorize if services.workspaces else None,
        )
        if settings.oauth_mode
        else {}
    )
    try:
        app = AsyncApp(
            **oauth,
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
    if settings.oauth_mode:
        enable_oauth_mode(app)
    return app, handlers.register_handlers(app, services)


@dataclass
class Health:
    """What /readyz reports; updated by start-up checks and the Redis probe."""

    slack_ok: bool = False
    draining: bool = False
    details: dict[str, str] = field(default_factory=dict)
    socket_connected: Callable[[], Awaitable[bool]] | None = None  # set in Socket Mode


async def warm_up(app: AsyncApp, services: Services, health: Health) -> None:
    """Check the token once at start-up and hand the result to Bolt, so no ack waits on it."""
    if services.settings.oauth_mode:  # tokens are per workspace, checked as they are installed
        health.slack_ok = True
        return
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


def build_web_app(
    app: AsyncApp, services: Services, health: Health, guard: ConnectionGuard | None = None
) -> web.Application:
    settings = services.settings
    secret = settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret is not None else None
    guard = guard or connection_guard(settings)

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await handle_slack_request(request)
        finally:
            services.metrics.ack.observe(time.perf_counter() - started)

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
        socket_ok = health.socket_connected is None or await health.socket_connected()
        if health.socket_connected is not None:
            checks["socket_mode"] = "connected" if socket_ok else "not connected"
        ready = checks["redis"] == "ok" and not health.draining and socket_ok
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=services.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    web_app = web.Application(client_max_size=1024**2)
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    if services.settings.oauth_mode:
        add_oauth_routes(web_app, app)
    return web_app


def connection_guard(settings: Settings) -> ConnectionGuard:
    return ConnectionGuard(
        read_timeout=settings.http_read_timeout_seconds,
        max_slow=settings.http_max_slow_connections,
    )


class Runtime:
    """The running bot: Slack listener, HTTP endpoints, and an orderly stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = build_services(settings)
        self.bolt, self.listeners = build_bolt_app(self.services)
        self.health = Health()
        self._runner: web.AppRunner | None = None
        self._socket: SocketModeLink | None = None
        self._lag_watch: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = settings.port

    async def start(self, *, host: str = "0.0.0.0") -> None:
        self._lag_watch = asyncio.create_task(self.services.metrics.watch_event_loop())
        if self.services.actions is not None:
            self.services.actions.start()
        await warm(self.services.memory.redis)
        self._sweeper = asyncio.create_task(self._sweep(), name="takeover-sweeper")
        await warm_up(self.bolt, self.services, self.health)
        await warn_if_redis_unreachable(self.services)
        guard = connection_guard(self.settings)
        self._runner = web.AppRunner(
            build_web_app(self.bolt, self.services, self.health, guard),
            access_log=None,
            **guard.runner_options(),
        )
        await self._runner.setup()
        site = GuardedSite(self._runner, guard, host=host, port=self.settings.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        app_token = self.settings.slack_app_token
        if app_token is not None:
            # Connects in the background, so SIGTERM works while Slack is unreachable.
            self._socket = SocketModeLink(self.bolt, app_token.get_secret_value())
            self.health.socket_connected = self._socket.connected
            self._socket.start()
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
        if self._socket is not None:
            await self._socket.close()
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
        if self.services.actions is not None:
            await self.services.actions.close()
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
            speak_for=services.workspaces.speaking_for if services.workspaces else None,
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
    starting = asyncio.create_task(runtime.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # SIGTERM while starting (Slack or Redis slow to answer)
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
    elif starting.exception() is not None:
        stopping.cancel()
        starting.result()  # a start-up failure is raised, not hidden
    else:
        await stopping
    log.info("shutting down: finishing answers in flight")
    await runtime.stop()
    log.info("stopped")
