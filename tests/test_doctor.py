"""`python -m bot doctor`: one line per check, a fix for each problem, an exit code to act on."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from redis.asyncio import Redis

from bot import doctor as doctor_module
from bot.doctor import (
    BOT_SCOPES,
    Check,
    Status,
    alias_check,
    doctor,
    render,
    scope_check,
    ttl_check,
)
from bot.settings import AgentBackend
from tests.fakes.agentcore import FakeAgentCoreRuntime
from tests.fakes.agentcore_control import FakeAgentCoreControl
from tests.fakes.bedrock import FakeBedrockAgentRuntime, HttpError, Script
from tests.fakes.bedrock_control import FakeBedrockAgentControl
from tests.fakes.harness import FakeHarness
from tests.fakes.knowledge_base import FakeBedrockWithKnowledgeBase
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_state import Json
from tests.harness import (
    HARNESS_ARN,
    KB_ID,
    KB_MODEL_ARN,
    REDIS_URL,
    SIGNING_SECRET,
    bot_env,
    patched_env,
)

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yaml"
APP_TOKEN = "xapp-1-test"
ALL_SCOPES = ",".join(sorted(BOT_SCOPES))
Env = dict[str, str]


class ScopedSlack(FakeSlack):
    """FakeSlack plus what doctor reads: `x-oauth-scopes` on answers, apps.connections.open."""

    def __init__(self, scopes: str = ALL_SCOPES) -> None:
        super().__init__()
        self.scopes = scopes

    async def _on_api(self, request: web.Request) -> web.Response:
        response = await super()._on_api(request)
        response.headers["x-oauth-scopes"] = self.scopes
        return response

    def _answer(self, method: str, args: Json, token: str) -> tuple[int, Json, dict[str, str]]:
        if method != "apps.connections.open":
            return super()._answer(method, args, token)
        if token != APP_TOKEN:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        return 200, {"ok": True, "url": "wss://wss-primary.slack.com/link/?ticket=t"}, {}


@pytest.fixture
async def scoped_slack() -> AsyncIterator[ScopedSlack]:
    async with ScopedSlack() as fake:
        yield fake


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrockAgentRuntime]:
    """Bedrock Agents only, overriding conftest's two-backend fixture: doctor's checks differ by
    backend, and these are Bedrock Agents' (the AgentCore one starts its own fake)."""
    async with FakeBedrockAgentRuntime() as fake:
        yield fake


@pytest.fixture
async def control() -> AsyncIterator[FakeBedrockAgentControl]:
    async with FakeBedrockAgentControl() as fake:
        yield fake


@pytest.fixture
def env(
    scoped_slack: ScopedSlack,
    bedrock: FakeBedrockAgentRuntime,
    control: FakeBedrockAgentControl,
    redis_prefix: str,
) -> Env:
    return bot_env(scoped_slack, bedrock, redis_prefix) | {
        "AWS_ENDPOINT_URL_BEDROCK_AGENT": control.url,
        "SESSION_IDLE_SECONDS": "3600",
    }


async def run_doctor(env: Env, **overrides: str) -> tuple[int, dict[str, str]]:
    """Doctor in-process: (exit code, {check name: its line})."""
    out = io.StringIO()
    with patched_env(env | overrides):
        code = await doctor(out=out)
    lines = out.getvalue().splitlines()
    by_name = {line[2:].split(" — ")[0]: line for line in lines}
    assert len(by_name) == len(lines), f"one line per check:\n{out.getvalue()}"
    return code, by_name


def status(line: str) -> Status:
    return Status(line[0])


async def test_everything_configured_right_passes_with_exit_0(
    env: Env, control: FakeBedrockAgentControl, redis_prefix: str
) -> None:
    code, lines = await run_doctor(env)

    assert code == 0
    names = "settings, slack auth, slack scopes, socket mode, bedrock agent, session ttl, redis"
    assert ", ".join(lines) == names
    assert lines["settings"].startswith("✓ settings — HTTP mode, AGENT_BACKEND=bedrock-agents")
    assert lines["slack auth"] == "✓ slack auth — team Fake Workspace (T0001), bot user @bot (UBOT)"
    assert lines["slack scopes"] == "✓ slack scopes — all 8 scopes of manifest.yaml granted"
    assert status(lines["socket mode"]) is Status.SKIP
    assert lines["bedrock agent"].endswith("— alias live (ALIAS12345) PREPARED, agent version 1")
    assert status(lines["session ttl"]) is Status.OK
    assert (
        lines["redis"].startswith("✓ redis — redis://") and "PING and SET/GET/DEL" in lines["redis"]
    )
    agent = "/agents/AGENT12345/"
    assert control.requests == [f"{agent}agentaliases/ALIAS12345/", agent]
    redis = Redis.from_url(REDIS_URL)
    assert [key async for key in redis.scan_iter(match=f"{redis_prefix}*")] == []  # cleaned up
    await redis.aclose()


async def test_python_m_bot_doctor_prints_the_report_and_no_secret(env: Env) -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "doctor"),
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    report = stdout.decode()

    assert process.returncode == 0, report + stderr.decode()
    assert [line[0] for line in report.splitlines()] == ["✓", "✓", "✓", "–", "✓", "✓", "✓"]
    for secret in (env["SLACK_BOT_TOKEN"], SIGNING_SECRET, env["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in report + stderr.decode()


async def test_a_wrong_bot_token_fails_and_says_where_to_get_one(env: Env) -> None:
    code, lines = await run_doctor(env, SLACK_BOT_TOKEN="xoxb-revoked-000")

    assert code == 1
    assert lines["slack auth"].startswith("✗ slack auth — Slack answered invalid_auth → ")
    assert "Bot User OAuth Token" in lines["slack auth"]
    assert "SLACK_BOT_TOKEN" in lines["slack auth"]
    assert status(lines["slack scopes"]) is Status.SKIP
    assert "xoxb-revoked-000" not in "\n".join(lines.values())


async def test_a_missing_scope_fails_and_names_it(env: Env, scoped_slack: ScopedSlack) -> None:
    scoped_slack.scopes = ",".join(sorted(BOT_SCOPES - {"reactions:write", "im:history"}))

    code, lines = await run_doctor(env)

    assert code == 1
    assert lines["slack scopes"] == (
        "✗ slack scopes — the token lacks im:history, reactions:write → add them in "
        "OAuth & Permissions → Bot Token Scopes, then reinstall the app"
    )


async def test_no_scopes_header_is_a_warning_not_a_failure(env: Env, slack: FakeSlack) -> None:
    code, lines = await run_doctor(env, SLACK_API_URL=slack.api_url)  # plain FakeSlack

    assert code == 0
    assert status(lines["slack scopes"]) is Status.WARN
    assert "no x-oauth-scopes header" in lines["slack scopes"]


async def test_socket_mode_checks_the_app_token(env: Env) -> None:
    code, lines = await run_doctor(env, SLACK_APP_TOKEN=APP_TOKEN)
    assert code == 0
    assert lines["settings"].startswith("✓ settings — Socket Mode")
    assert status(lines["socket mode"]) is Status.OK

    code, lines = await run_doctor(env, SLACK_APP_TOKEN="xapp-1-wrong")
    assert code == 1
    assert lines["socket mode"].startswith("✗ socket mode — Slack answered invalid_auth → ")
    assert "SLACK_APP_TOKEN" in lines["socket mode"]


async def test_unreachable_redis_fails_without_showing_its_password(env: Env) -> None:
    code, lines = await run_doctor(env, REDIS_URL="redis://:hunter2@127.0.0.1:1/0")

    assert code == 1
    assert lines["redis"].startswith("✗ redis — redis://127.0.0.1:1/0: ConnectionError")
    assert "→ check REDIS_URL" in lines["redis"]
    assert "hunter2" not in "\n".join(lines.values())


async def test_an_unknown_alias_fails_and_points_at_the_alias_setting(env: Env) -> None:
    code, lines = await run_doctor(env, BEDROCK_AGENT_ALIAS_ID="NOSUCHALIA")

    assert code == 1
    line = lines["bedrock agent"]
    assert line.startswith("✗ bedrock agent — GetAgentAlias failed: ResourceNotFoundException")
    assert "→ check BEDROCK_AGENT_ID, BEDROCK_AGENT_ALIAS_ID" in line


async def test_a_session_ttl_unlike_the_agents_is_a_warning_with_the_value_to_set(
    env: Env, control: FakeBedrockAgentControl
) -> None:
    control.agents["AGENT12345"].idle_ttl = 600

    code, lines = await run_doctor(env)

    assert code == 0
    assert lines["session ttl"] == (
        "⚠ session ttl — SESSION_IDLE_SECONDS=3600 but the agent's idleSessionTTLInSeconds=600: "
        "follow-ups in between reach a session the agent has already forgotten "
        "→ set SESSION_IDLE_SECONDS=600"
    )


async def test_a_denied_control_plane_falls_back_to_one_dry_invocation(
    env: Env, control: FakeBedrockAgentControl, bedrock: FakeBedrockAgentRuntime
) -> None:
    control.deny = True

    code, lines = await run_doctor(env)

    assert code == 0
    assert lines["bedrock agent"].startswith("✓ bedrock agent — GetAgentAlias denied; a test")
    assert status(lines["session ttl"]) is Status.WARN
    [invocation] = bedrock.invocations
    assert invocation.input_text == "ping"
    assert invocation.session_id.startswith("doctor-")


async def test_a_denied_invocation_fails_and_names_the_permission(
    env: Env, control: FakeBedrockAgentControl, bedrock: FakeBedrockAgentRuntime
) -> None:
    control.deny = True
    bedrock.enqueue(Script([HttpError(403, "AccessDeniedException", "not authorized")]))

    code, lines = await run_doctor(env)

    assert code == 1
    assert "AccessDeniedException" in lines["bedrock agent"]
    assert "→ allow bedrock:InvokeAgent" in lines["bedrock agent"]


async def test_agentcore_is_checked_with_a_dry_invocation(
    env: Env, agentcore_control: FakeAgentCoreControl
) -> None:
    arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/handbook-abc123"
    async with FakeAgentCoreRuntime() as runtime:
        code, lines = await run_doctor(
            env,
            AGENT_BACKEND="agentcore",
            AGENTCORE_RUNTIME_ARN=arn,
            AWS_ENDPOINT_URL_BEDROCK_AGENTCORE=runtime.url,
            AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL=agentcore_control.url,
        )
        assert [invocation.runtime_arn for invocation in runtime.invocations] == [arn]

    assert code == 0
    assert lines["agentcore runtime"].startswith("✓ agentcore runtime — a test question")


async def test_unusable_configuration_exits_2_with_one_line(env: Env) -> None:
    code, lines = await run_doctor(env, SLACK_BOT_TOKEN="not-a-token")

    assert code == 2
    [line] = lines.values()
    assert line.startswith("✗ settings — configuration error: SLACK_BOT_TOKEN")


async def test_a_crashing_check_is_reported(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(_: object) -> list[Check]:
        raise RuntimeError("bug")

    monkeypatch.setitem(doctor_module.AGENT_CHECKS, AgentBackend.BEDROCK_AGENTS, broken)

    code, lines = await run_doctor(env)

    assert code == 1
    assert lines["agent"].startswith("✗ agent — the check crashed: RuntimeError")


def test_the_scopes_doctor_expects_are_the_manifests() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES


def test_pure_checks() -> None:
    assert scope_check(None).status is Status.WARN
    assert scope_check(f"{ALL_SCOPES},users:read").status is Status.OK
    assert ttl_check(3600, 3600).status is Status.OK
    assert "sooner than needed" in ttl_check(3600, 60).detail
    assert ttl_check(None, 60).status is Status.WARN
    prepared = {"agentAliasId": "A", "agentAliasName": "live", "agentAliasStatus": "PREPARED"}
    assert alias_check(prepared).status is Status.OK
    assert alias_check(prepared | {"agentAliasStatus": "UPDATING"}).status is Status.WARN
    failed = prepared | {"agentAliasStatus": "FAILED", "failureReasons": ["no version"]}
    assert alias_check(failed).detail == "alias live (A) is FAILED no version"
    rejecting = prepared | {"aliasInvocationState": "REJECT_INVOCATIONS"}
    assert alias_check(rejecting).status is Status.FAIL
    assert render(Check("x", Status.FAIL, "bad", "do this")) == "✗ x — bad → do this"


# AgentCore runtime, harness and Knowledge-Base DMs: real request shapes, control-plane status.

RUNTIME = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/handbook-abc1234567"


@pytest.fixture
async def agentcore_control() -> AsyncIterator[FakeAgentCoreControl]:
    async with FakeAgentCoreControl() as fake:
        yield fake


async def test_agentcore_doctor_asks_as_a_real_question_does_and_reads_the_idle_timeout(
    env: Env, agentcore_control: FakeAgentCoreControl
) -> None:
    agentcore_control.idle_timeout = 600
    async with FakeAgentCoreRuntime() as runtime:
        code, lines = await run_doctor(agentcore_env(env, runtime, agentcore_control))
        [invocation] = runtime.invocations

    # Before: no runtimeUserId, so a missing InvokeAgentRuntimeForUser passed doctor.
    assert invocation.user_id == "slack:doctor:doctor"
    assert code == 0
    assert agentcore_control.requests == ["/runtimes/handbook-abc1234567/"]
    assert lines["session ttl"] == (
        "⚠ session ttl — SESSION_IDLE_SECONDS=3600 but the runtime's idleRuntimeSessionTimeout "
        "is 600: follow-ups in between reach a session AgentCore has already ended "
        "→ set SESSION_IDLE_SECONDS=600"
    )


def agentcore_env(
    env: Env, agent: FakeAgentCoreRuntime | FakeHarness, control: FakeAgentCoreControl
) -> Env:
    """`env` pointed at an AgentCore runtime or harness, and at the AgentCore control plane."""
    if isinstance(agent, FakeHarness):
        backend = {"AGENT_BACKEND": "harness", "AGENTCORE_HARNESS_ARN": HARNESS_ARN}
    else:
        backend = {"AGENT_BACKEND": "agentcore", "AGENTCORE_RUNTIME_ARN": RUNTIME}
    return (
        env
        | backend
        | {
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": agent.url,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": control.url,
        }
    )


# An AgentCore agent that refuses the doctor's question: which check says so, naming what.
DENIED = {
    "agentcore": (
        FakeAgentCoreRuntime,
        "agentcore runtime",
        ["bedrock-agentcore:InvokeAgentRuntime ", "bedrock-agentcore:InvokeAgentRuntimeForUser"],
    ),
    "harness": (FakeHarness, "harness invoke", ["→ allow bedrock-agentcore:InvokeHarness"]),
}


@pytest.mark.parametrize(("fake", "check", "named"), DENIED.values(), ids=DENIED)
async def test_a_denied_agentcore_question_names_the_missing_permissions(
    env: Env,
    agentcore_control: FakeAgentCoreControl,
    fake: type[FakeAgentCoreRuntime | FakeHarness],
    check: str,
    named: list[str],
) -> None:
    async with fake() as agent:
        agent.enqueue(Script([HttpError(403, "AccessDeniedException", "not authorized")]))
        code, lines = await run_doctor(agentcore_env(env, agent, agentcore_control))
    assert code == 1
    for permission in named:
        assert permission in lines[check]


async def test_the_harness_is_checked_on_the_control_plane_and_with_a_real_invocation(
    env: Env, agentcore_control: FakeAgentCoreControl
) -> None:
    del env["SESSION_IDLE_SECONDS"]  # the harness default: 900
    async with FakeHarness() as harness:
        code, lines = await run_doctor(
            agentcore_env(env, harness, agentcore_control), AGENTCORE_HARNESS_QUALIFIER="prod"
        )
        [invocation] = harness.invocations

    assert code == 0, lines
    assert lines["settings"].startswith("✓ settings — HTTP mode, AGENT_BACKEND=harness (harness")
    assert lines["agentcore harness"] == (
        "✓ agentcore harness — harness handbook READY, endpoint prod READY (version 3)"
    )
    assert lines["harness invoke"].startswith("✓ harness invoke — a test question")
    assert status(lines["session ttl"]) is Status.OK
    assert (invocation.qualifier, invocation.user_id) == ("prod", "slack:doctor:doctor")
    assert invocation.input_text == "ping"


async def test_a_harness_endpoint_that_is_not_ready_fails(
    env: Env, agentcore_control: FakeAgentCoreControl
) -> None:
    agentcore_control.endpoint_status = "UPDATE_FAILED"
    async with FakeHarness() as harness:
        code, lines = await run_doctor(
            agentcore_env(env, harness, agentcore_control), AGENTCORE_HARNESS_QUALIFIER="prod"
        )
    assert code == 1
    assert lines["agentcore harness"].startswith(
        "✗ agentcore harness — endpoint prod is UPDATE_FAILED"
    )


async def test_knowledge_base_dms_are_checked_for_status_and_with_a_real_question(
    env: Env, control: FakeBedrockAgentControl, redis_prefix: str
) -> None:
    async with FakeBedrockWithKnowledgeBase() as kb:
        kb_env = env | {
            "DM_KNOWLEDGE_BASE_ID": KB_ID,
            "DM_MODEL_ARN": KB_MODEL_ARN,
            "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME": kb.url,
        }
        code, lines = await run_doctor(kb_env)
        assert [i.prompt for i in kb.kb_invocations] == ["ping"]
        control.knowledge_bases[KB_ID] = "FAILED"
        failed_code, failed = await run_doctor(kb_env)

    assert code == 0
    assert lines["knowledge base"] == "✓ knowledge base — handbook (KB12345678) is ACTIVE"
    assert lines["knowledge base question"].startswith("✓ knowledge base question — a test")
    assert failed_code == 1 and "is FAILED" in failed["knowledge base"]


async def test_env_example_placeholders_are_flagged_by_name_never_by_value(env: Env) -> None:
    code, lines = await run_doctor(
        env, SLACK_SIGNING_SECRET="your-signing-secret", SLACK_BOT_TOKEN="xoxb-your-bot-token"
    )

    assert code == 1
    assert status(lines["placeholders"]) is Status.FAIL
    assert "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in lines["placeholders"]
    assert "your-signing-secret" not in "".join(lines.values())


async def test_channel_names_in_allowed_channels_are_flagged(env: Env) -> None:
    code, lines = await run_doctor(env, ALLOWED_CHANNELS="#general, C0123456789, random")

    assert code == 1
    assert status(lines["allowed channels"]) is Status.FAIL
    assert "#general, random" in lines["allowed channels"]
    assert "C0123456789" not in lines["allowed channels"].split("→")[0]


async def test_an_html_page_where_slack_should_answer_points_at_slack_api_url(
    env: Env, scoped_slack: ScopedSlack
) -> None:
    scoped_slack.fail_raw("auth.test", status=502)

    code, lines = await run_doctor(env)

    assert code == 1
    assert status(lines["slack auth"]) is Status.FAIL
    assert "http_502 without the Web API's JSON" in lines["slack auth"]
    assert "SLACK_API_URL" in lines["slack auth"]
