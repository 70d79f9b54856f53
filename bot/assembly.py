"""Assembly: build clients and stores once and register every surface on the Bolt app."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.async_app import AsyncApp
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
from bot.installations.agents import build_agents
from bot.installations.oauth import build_authorize, enable_oauth_mode, oauth_app_arguments
from bot.installations.routing import RequestScopedClient
from bot.installations.workspaces import Workspaces
from bot.memory import Memory, connect, memory_for
from bot.metrics import Metrics
from bot.rag_sessions import RagSessions
from bot.services import Services
from bot.settings import Settings
from bot.slack_budget import WriteBudget
from bot.takeover import TurnWatch
from handlers.listeners import Listeners

log = logging.getLogger("bot.app")


def build_services(settings: Settings) -> Services:
    """Build every client once; must run inside the event loop (aiohttp needs one)."""
    client = slack_client(settings)
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
    workspaces = oauth_workspaces(settings, memory, client)
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


def oauth_workspaces(
    settings: Settings, memory: Memory, client: AsyncWebClient
) -> Workspaces | None:
    """OAuth mode: takeovers and expiry sweeps speak with the workspace of what they finish."""
    if not settings.oauth_mode:
        return None
    authorize = build_authorize(settings, redis=memory.redis, client=client)
    return Workspaces(authorize=authorize, client=client)


def slack_client(settings: Settings) -> AsyncWebClient:
    """The one Slack client, on one pooled HTTP session."""
    # One pooled HTTP session: slack_sdk would otherwise open a connection per call.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200, ttl_dns_cache=300))
    # OAuth mode: no token of its own; each call carries its request's workspace token.
    client_type = RequestScopedClient if settings.oauth_mode else AsyncWebClient
    token = settings.slack_bot_token
    return client_type(
        token=token.get_secret_value() if token is not None else None,
        base_url=settings.slack_api_url,
        session=session,
        timeout=30,
        # No automatic resend after a broken connection: Slack may have applied the write.
        # bot/slack_calls.py decides per method what is safe to retry.
        retry_handlers=[],
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
