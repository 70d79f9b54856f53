"""`python -m bot doctor`: check the configuration against Slack, the agent and Redis.

Each check is a small async function returning typed `Check`s; printing is separate. Exit code:
0 all passed (warnings allowed), 1 something failed, 2 the configuration is unusable."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TextIO
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import config_checks, doctor_backends
from bot.agents import AgentBackend as Backend
from bot.agents import build_backend, control
from bot.agents.control import ControlPlaneError
from bot.doctor_report import Check as Check
from bot.doctor_report import Status as Status
from bot.doctor_report import fail as fail
from bot.doctor_report import ok as ok
from bot.doctor_report import render as render
from bot.doctor_report import warn as warn
from bot.events import AgentFailure, AgentRequest, TextDelta
from bot.memory import STORE_ERRORS, close, connect, memory_for, self_test
from bot.settings import AgentBackend, ConfigError, Settings, load_settings
from bot.slack_errors import classify

# manifest.yaml's oauth_config.scopes.bot, here because pyyaml is only a dev dependency and the
# manifest need not ship with the bot; tests/test_doctor.py keeps the two equal.
_SCOPES = "app_mentions:read assistant:write channels:history chat:write commands groups:history im:history reactions:write"
BOT_SCOPES = frozenset(_SCOPES.split())
DRY_RUN_INPUT = "ping"  # a tiny question for a throwaway session
# Asked as a real question is (attributes, user id → runtimeUserId), so the permissions a real
# question needs are the ones exercised.
DRY_RUN_ATTRIBUTES = {"slackTeamId": "doctor", "slackChannelId": "doctor", "slackUserId": "doctor"}
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
_CREDENTIALS = "provide valid AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID…, or a role)"
FIXES = {
    "bot_token": "put the Bot User OAuth Token (xoxb-…) of OAuth & Permissions in SLACK_BOT_TOKEN",
    "scopes": "add them in OAuth & Permissions → Bot Token Scopes, then reinstall the app",
    "app_token": "enable Socket Mode; put an App-Level Token with connections:write in SLACK_APP_TOKEN",
    "ResourceNotFoundException": "check BEDROCK_AGENT_ID, BEDROCK_AGENT_ALIAS_ID and AWS_REGION",
    "ValidationException": "check BEDROCK_AGENT_ID and BEDROCK_AGENT_ALIAS_ID (10 characters)",
    "AccessDeniedException": "allow bedrock:InvokeAgent on the agent alias for these credentials",
    "UnrecognizedClientException": _CREDENTIALS,
    "ExpiredTokenException": _CREDENTIALS,
    "NoCredentialsError": _CREDENTIALS,
    "EndpointConnectionError": "check AWS_REGION and the network path to AWS",
    "alias": "prepare the agent and point the alias at a working version (BEDROCK_AGENT_ALIAS_ID)",
    "get_agent": "allow bedrock:GetAgent, or compare it with SESSION_IDLE_SECONDS by hand",
    "redis": "check REDIS_URL (host, port, password; rediss:// for TLS) and that Redis runs",
}
SlackAnswer = AsyncSlackResponse
AGENTCORE_FIXES = FIXES | doctor_backends.AGENTCORE_FIXES


def describe_settings(settings: Settings) -> Check:
    mode = "HTTP mode" if settings.http_mode else "Socket Mode"
    mode += ", OAuth mode (many workspaces)" if settings.oauth_mode else ""
    if settings.agent_backend is AgentBackend.BEDROCK_AGENTS:
        target = f"agent {settings.bedrock_agent_id}, alias {settings.bedrock_agent_alias_id}"
    elif settings.agent_backend is AgentBackend.HARNESS:
        endpoint = settings.agentcore_harness_qualifier or "default endpoint"
        target = f"harness {settings.agentcore_harness_arn} ({endpoint})"
    else:
        target = f"runtime {settings.agentcore_runtime_arn} ({settings.agentcore_qualifier})"
    backend = settings.agent_backend.value
    return ok("settings", f"{mode}, AGENT_BACKEND={backend} ({target}), {settings.aws_region}")


def scope_check(granted: str | None, required: frozenset[str] = BOT_SCOPES) -> Check:
    """Compare Slack's `x-oauth-scopes` header with the scopes the manifest asks for."""
    if granted is None:
        detail = "Slack sent no x-oauth-scopes header, so the token's scopes are unknown"
        return warn("slack scopes", detail, "compare them with manifest.yaml by hand")
    missing = sorted(required - {scope.strip() for scope in granted.split(",")})
    if missing:
        return fail("slack scopes", f"the token lacks {', '.join(missing)}", FIXES["scopes"])
    return ok("slack scopes", f"all {len(required)} scopes of manifest.yaml granted")


def ttl_check(agent_ttl: int | None, configured: int) -> Check:
    """SESSION_IDLE_SECONDS should equal the agent's idleSessionTTLInSeconds (SPEC)."""
    if agent_ttl is None:
        return warn("session ttl", "the agent reports no idleSessionTTLInSeconds")
    if agent_ttl == configured:
        detail = f"SESSION_IDLE_SECONDS={configured} matches the agent's idleSessionTTLInSeconds"
        return ok("session ttl", detail)
    effect = (
        "follow-ups in between reach a session the agent has already forgotten"
        if configured > agent_ttl
        else "the bot replays history into fresh sessions sooner than needed"
    )
    detail = f"SESSION_IDLE_SECONDS={configured} but the agent's idleSessionTTLInSeconds={agent_ttl}: {effect}"
    return warn("session ttl", detail, f"set SESSION_IDLE_SECONDS={agent_ttl}")


async def _slack_call(name: str, call: Awaitable[SlackAnswer], fix: str) -> SlackAnswer | Check:
    """The response, or the failed check: Slack refused (→ `fix`) or could not be reached."""
    try:
        return await call
    except SlackApiError as exc:
        failure = classify(exc)
        if failure.uncertain:  # not the Web API's JSON: an HTML page, a proxy, a wrong URL
            detail = f"Slack answered {failure.error} without the Web API's JSON"
            return fail(name, detail, "check SLACK_API_URL and the network path to Slack")
        return fail(name, f"Slack answered {failure.error}", fix)
    except _NETWORK_ERRORS as exc:
        detail = f"cannot reach Slack ({type(exc).__name__})"
        return fail(name, detail, "check SLACK_API_URL and the network path to Slack")


async def check_slack(settings: Settings, client: AsyncWebClient) -> list[Check]:
    """auth.test with the bot token, then the token's scopes from the same response."""
    auth = await _slack_call("slack auth", client.auth_test(), FIXES["bot_token"])
    if isinstance(auth, Check):
        return [auth, Check("slack scopes", Status.SKIP, "not checked: auth.test failed")]
    team, user = f"{auth.get('team')} ({auth.get('team_id')})", auth.get("user")
    detail = f"team {team}, bot user @{user} ({auth.get('user_id')})"
    granted = next((v for k, v in auth.headers.items() if k.lower() == "x-oauth-scopes"), None)
    return [ok("slack auth", detail), scope_check(granted)]


async def check_socket_mode(settings: Settings, client: AsyncWebClient) -> Check:
    """With SLACK_APP_TOKEN set, apps.connections.open must hand out a WebSocket URL."""
    if settings.slack_app_token is None:
        return Check("socket mode", Status.SKIP, "HTTP mode: SLACK_APP_TOKEN is unset")
    call = client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    opened = await _slack_call("socket mode", call, FIXES["app_token"])
    return opened if isinstance(opened, Check) else ok("socket mode", "SLACK_APP_TOKEN works")


def failed_call(name: str, call: str, failure: AgentFailure, fixes: Mapping[str, str]) -> Check:
    detail = ": ".join(filter(None, [f"{call} failed", failure.code, failure.detail[:200]]))
    return fail(name, detail, fixes.get(failure.code, "see the AWS error"))


def alias_check(alias: Mapping[str, Any]) -> Check:
    """The alias must be PREPARED and accept invocations."""
    status = str(alias.get("agentAliasStatus"))
    name = f"alias {alias.get('agentAliasName')} ({alias.get('agentAliasId')})"
    if alias.get("aliasInvocationState") == "REJECT_INVOCATIONS":
        status = "rejecting invocations"
    elif status in {"CREATING", "UPDATING"}:
        return warn("bedrock agent", f"{name} is {status}", "run doctor again when PREPARED")
    if status != "PREPARED":
        detail = f"{name} is {status} {'; '.join(alias.get('failureReasons') or ())}"
        return fail("bedrock agent", detail.strip(), FIXES["alias"])
    routes = alias.get("routingConfiguration") or ()
    version = ", ".join(str(r["agentVersion"]) for r in routes if r.get("agentVersion")) or "?"
    return ok("bedrock agent", f"{name} PREPARED, agent version {version}")


async def check_bedrock_agents(settings: Settings) -> list[Check]:
    """GetAgentAlias and GetAgent on the control plane; a dry InvokeAgent when they are denied."""
    try:
        alias = await asyncio.to_thread(control.get_agent_alias, settings)
    except ControlPlaneError as exc:
        if exc.failure.code != "AccessDeniedException":
            return [failed_call("bedrock agent", "GetAgentAlias", exc.failure, FIXES)]
        # The bot itself needs only InvokeAgent: ask the alias instead.
        ttl_detail = "cannot read the agent's idleSessionTTLInSeconds (control plane denied)"
        invoked = await dry_run(settings, "bedrock agent", FIXES)
        invoked = replace(invoked, detail=f"GetAgentAlias denied; {invoked.detail}")
        return [invoked, warn("session ttl", ttl_detail, FIXES["get_agent"])]
    checks = [alias_check(alias)]
    try:
        agent = await asyncio.to_thread(control.get_agent, settings)
    except ControlPlaneError as exc:
        detail = f"cannot read the agent's idleSessionTTLInSeconds ({exc.failure.code})"
        return [*checks, warn("session ttl", detail, FIXES["get_agent"])]
    ttl = agent.get("idleSessionTTLInSeconds")
    return [*checks, ttl_check(ttl, settings.session_idle_seconds)]


async def dry_run(
    settings: Settings,
    name: str,
    fixes: Mapping[str, str],
    *,
    build: Callable[[Settings], Backend] = build_backend,
) -> Check:
    """Ask the configured backend (the bot's own code path) one tiny question, read to the end."""
    backend = await asyncio.to_thread(build, settings)
    session = f"doctor-{uuid.uuid4().hex}"
    request = AgentRequest(DRY_RUN_INPUT, session, DRY_RUN_ATTRIBUTES, user_id="doctor")
    answered, failure = 0, None
    try:
        async for event in backend.stream(request):
            answered += len(event.text) if isinstance(event, TextDelta) else 0
            failure = event if isinstance(event, AgentFailure) else failure
    finally:
        await backend.aclose()
    if failure is not None:
        return failed_call(name, "a test question", failure, fixes)
    return ok(name, f"a test question in a throwaway session was answered ({answered} chars)")


AGENT_CHECKS: dict[AgentBackend, Callable[[Settings], Awaitable[list[Check]]]] = {
    AgentBackend.BEDROCK_AGENTS: check_bedrock_agents,
    AgentBackend.AGENTCORE: doctor_backends.check_agentcore,
    AgentBackend.HARNESS: doctor_backends.check_harness,
}


async def check_redis(settings: Settings) -> Check:
    """PING, then a SET/GET/DEL round trip under REDIS_KEY_PREFIX."""
    if settings.redis_url is None:
        detail = "REDIS_URL unset: embedded in-process store (forgotten on restart, one replica)"
        return warn("redis", detail, "set REDIS_URL=redis://… for production")
    raw = settings.redis_url.get_secret_value()
    url = urlsplit(raw)
    shown = f"{url.scheme}://{url.hostname or ''}{f':{url.port}' if url.port else ''}{url.path}"
    memory = memory_for(settings, connect(settings))
    try:
        await self_test(memory)
    except STORE_ERRORS as exc:
        message = str(exc).replace(url.password or "\0", "***")[:200]  # never print a secret
        return fail("redis", f"{shown}: {type(exc).__name__}: {message}", FIXES["redis"])
    finally:
        await close(memory.redis)
    return ok("redis", f"{shown}: PING and SET/GET/DEL under {settings.redis_key_prefix!r}")


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, concurrently; the report keeps a fixed order."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=10)
    if settings.oauth_mode:  # many workspaces: no token of its own to check
        from bot.installations.checks import check_oauth

        slack_checks = check_oauth(settings, client)
    else:
        slack_checks = check_slack(settings, client)
    groups: dict[str, Awaitable[list[Check] | Check]] = {
        "slack auth": slack_checks,
        "socket mode": check_socket_mode(settings, client),
        "agent": AGENT_CHECKS[settings.agent_backend](settings),
        "redis": check_redis(settings),
    }
    if settings.knowledge_base_dms:
        groups["knowledge base"] = doctor_backends.check_knowledge_base(settings)
    results = await asyncio.gather(*groups.values(), return_exceptions=True)
    checks = [describe_settings(settings)]
    checks += [fail(p.name, p.detail, p.fix) for p in config_checks.problems(settings)]
    for name, result in zip(groups, results, strict=True):
        if isinstance(result, BaseException):  # a doctor reports; it never dies mid-report
            checks.append(fail(name, f"the check crashed: {type(result).__name__}", "a bug"))
        else:
            checks.extend(result if isinstance(result, list) else [result])
    return checks


async def doctor(*, out: TextIO | None = None) -> int:
    """Load the settings, run every check, print one line each; return the exit code."""
    out = out or sys.stdout
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(render(fail("settings", str(exc), "fix it in the environment or .env")), file=out)
        return 2
    checks = await run_checks(settings)
    print("\n".join(render(check) for check in checks), file=out)
    return 1 if any(check.status is Status.FAIL for check in checks) else 0
