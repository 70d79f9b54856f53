"""`python -m bot playground`: the page, an in-process Slack, and the unchanged bot behind it.

The bot runs in HTTP mode exactly as in production, with a bot token and a signing secret made
up for this run and SLACK_API_URL pointing at the playground's Slack Web API; its HTTP side
listens on a random loopback port that only the playground talks to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.agents.credentials import aws_credentials_found
from bot.app import Runtime
from bot.logs import configure_logging
from bot.playground.feed import Feed
from bot.playground.server import LOOPBACK_NAMES, PageFacts, PlaygroundServer
from bot.playground.workspace import Workspace
from bot.settings import AgentBackend, ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # bound to every interface: any Host is fine


@dataclass(frozen=True, slots=True)
class Choice:
    """The settings the bot runs with here, and why that agent."""

    settings: Settings
    signing_secret: str
    token: str
    note: str  # "" or why the configured agent is not used


def choose_settings(**overrides: Any) -> Choice:
    """The configured agent when it is complete and AWS credentials exist, else the demo.

    Slack settings are always the playground's own; raises ConfigError for other bad settings.
    """
    token, secret = f"xoxb-playground-{secrets.token_hex(12)}", secrets.token_hex(16)
    slack = {
        "slack_bot_token": token,
        "slack_signing_secret": secret,
        "slack_app_token": None,
        # Not an OAuth install either: the playground's token is the only one (ignored where
        # settings have no OAuth fields).
        "slack_client_id": None,
        "slack_client_secret": None,
        "slack_api_url": "http://127.0.0.1/api/",  # replaced once the playground listens
    }
    note = ""
    try:
        settings = load_settings(**(slack | overrides))
    except ConfigError:
        # Most often the agent is not configured; any other mistake fails here again, clearly.
        settings = load_settings(**(slack | overrides | {"agent_backend": AgentBackend.DEMO}))
    if settings.agent_backend is not AgentBackend.DEMO and not aws_credentials_found():
        note = f"AGENT_BACKEND={settings.agent_backend.value} is set, but no AWS credentials were found"
        settings = settings.model_copy(update={"agent_backend": AgentBackend.DEMO})
    return Choice(settings, secret, token, note)


def agent_label(settings: Settings) -> str:
    if settings.agent_backend is AgentBackend.DEMO:
        return "demo agent"
    if settings.agent_backend is AgentBackend.BEDROCK_AGENTS:
        return f"Bedrock agent {settings.bedrock_agent_id} / {settings.bedrock_agent_alias_id}"
    if settings.agent_backend is AgentBackend.AGENTCORE:
        return f"AgentCore runtime {settings.agentcore_runtime_arn}"
    return f"{settings.agent_backend.value} agent"


class Playground:
    """A running playground: `start`, then `url` serves the page; `stop` ends it all."""

    def __init__(self, choice: Choice) -> None:
        self.choice = choice
        settings = choice.settings
        facts = PageFacts(
            agent_label=agent_label(settings),
            demo=settings.agent_backend is AgentBackend.DEMO,
            order_command=settings.order_command,
        )
        self.workspace = Workspace(Feed())
        host = settings.playground_host
        hosts = frozenset() if host in ANY_ADDRESS else LOOPBACK_NAMES | {host.strip("[]")}
        self.server = PlaygroundServer(
            token=choice.token, workspace=self.workspace, facts=facts, hosts=hosts
        )
        self.runtime: Runtime | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        settings = self.choice.settings
        self._runner = web.AppRunner(self.server.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host=settings.playground_host, port=settings.port)
        await site.start()
        port = self._runner.addresses[0][1]
        host = settings.playground_host
        local = "127.0.0.1" if host in ANY_ADDRESS else host
        self.url = f"http://{local}:{port}"
        self.server.url = self.url
        bot_settings = settings.model_copy(update={"slack_api_url": f"{self.url}/api/", "port": 0})
        self.runtime = Runtime(bot_settings)
        await self.runtime.start(host="127.0.0.1")  # the bot itself stays loopback-only
        self._http = aiohttp.ClientSession()
        self.server.connect(
            http=self._http,
            bot_url=f"http://127.0.0.1:{self.runtime.port}",
            secret=self.choice.signing_secret,
        )

    async def stop(self, *, grace: float | None = None) -> None:
        self.server.close_streams()
        if self.runtime is not None:
            await self.runtime.stop(grace=grace)  # answers in flight still write to our Slack
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()


async def serve(choice: Choice, *, announce: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    playground = Playground(choice)
    try:
        await playground.start()
    except OSError as exc:
        print(
            f"the playground could not listen on port {choice.settings.port} ({exc.strerror}): set PORT",
            file=sys.stderr,
        )
        await playground.stop(grace=0)
        return 2
    label = agent_label(choice.settings)
    note = f" ({choice.note})" if choice.note else ""
    print(f"{announce} at {playground.url}/ ({label}{note}); Ctrl-C stops it", flush=True)
    await stop.wait()
    await playground.stop()
    return 0


def main(*, because_unconfigured: bool = False) -> int:
    """Run the playground until SIGINT/SIGTERM; 2 on a configuration error."""
    try:
        choice = choose_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    settings = choice.settings
    # Text logs, warnings and worse, unless LOG_FORMAT / LOG_LEVEL say otherwise: this runs
    # in someone's terminal, where the page is the point.
    asked = settings.model_fields_set
    fmt = settings.log_format.value if "log_format" in asked else "text"
    configure_logging(level=settings.log_level if "log_level" in asked else "WARNING", fmt=fmt)
    announce = (
        "No Slack token or OAuth client configured: starting the playground"
        if because_unconfigured
        else "Playground"
    )
    return asyncio.run(serve(choice, announce=announce))
