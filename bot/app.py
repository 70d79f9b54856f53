"""The running bot: start the assembled services, serve HTTP or Socket Mode, stop in order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

import handlers
import handlers.common
from bot.assembly import build_bolt_app, build_services
from bot.http_guard import GuardedSite
from bot.limits import FINAL_WRITES_SECONDS
from bot.memory import close, warm
from bot.metrics import LagWatch
from bot.settings import Settings
from bot.socket_mode import SocketModeLink
from bot.start_checks import warn_if_redis_unreachable
from bot.takeover import Sweeper
from bot.web import Health, build_web_app, connection_guard, warm_up

log = logging.getLogger(__name__)


class Runtime:
    """The running bot: Slack listener, HTTP endpoints, and an orderly stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = build_services(settings)
        self.bolt, self.listeners = build_bolt_app(self.services)
        self.health = Health()
        self._runner: web.AppRunner | None = None
        self._socket: SocketModeLink | None = None
        self._lag_watch: LagWatch | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = settings.port

    async def start(self, *, host: str = "0.0.0.0") -> None:
        self._lag_watch = self.services.metrics.watch_event_loop()
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
            self._lag_watch.stop()
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
    runtime = Runtime(settings)

    def on_signal() -> None:
        # Draining from this instant: an event that arrives while the loop gets round to
        # `runtime.stop` is already refused (503, Slack retries it on another replica).
        runtime.health.draining = True
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
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
        # Everything built at start-up lives as long as the process: out of the collector's
        # way, so its collections during answers only walk what answers allocate.
        gc.freeze()
        await stopping
    log.info("shutting down: finishing answers in flight")
    await runtime.stop()
    log.info("stopped")
