"""`doctor` checks of the AgentCore backends (runtime, harness) and of Knowledge-Base DMs.

Each asks what the bot itself will ask — the same request shape, `runtimeUserId` included, so a
missing `…ForUser` permission fails here and not on the first real question — and reads the
control plane where it can (status, idle timeout), warning where it is denied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.agents import build_knowledge_base, control
from bot.agents.agentcore import AgentCoreBackend
from bot.agents.control import ControlPlaneError
from bot.agents.harness import HarnessBackend
from bot.agents.knowledge_base import KnowledgeBaseBackend

if TYPE_CHECKING:
    from bot.doctor import Check
    from bot.events import AgentFailure
    from bot.settings import Settings

# AgentCore Runtime ends a session after this many idle seconds unless configured otherwise
# (LifecycleConfiguration.idleRuntimeSessionTimeout); a harness exposes no other value.
AGENTCORE_IDLE_DEFAULT = 900
# Not found / denied: the texts each backend states (bot.agents.hints), as the pipeline logs them.
AGENTCORE_FIXES = AgentCoreBackend.operator_hints.by_code()
HARNESS_FIXES = HarnessBackend.operator_hints.by_code() | {
    "ValidationException": "check AGENTCORE_HARNESS_ARN (…:harness/<name>-<10 characters>)",
}
KB_FIXES = KnowledgeBaseBackend.operator_hints.by_code() | {
    "ValidationException": "check DM_MODEL_ARN (a model or inference profile of AWS_REGION)",
}


def idle_check(limit: int, configured: int, source: str) -> Check:
    """SESSION_IDLE_SECONDS against the idle timeout AWS applies (`source` names it)."""
    from bot.doctor import ok, warn

    if configured == limit:
        return ok("session ttl", f"SESSION_IDLE_SECONDS={configured} matches {source}")
    if configured < limit:
        detail = f"SESSION_IDLE_SECONDS={configured} is below {source} ({limit}): history is replayed sooner than needed"
        return ok("session ttl", detail)
    effect = "follow-ups in between reach a session AgentCore has already ended"
    detail = f"SESSION_IDLE_SECONDS={configured} but {source} is {limit}: {effect}"
    return warn("session ttl", detail, f"set SESSION_IDLE_SECONDS={limit}")


async def check_agentcore(settings: Settings) -> list[Check]:
    """A dry InvokeAgentRuntime (with runtimeUserId), then the runtime's idle timeout."""
    from bot.doctor import FIXES, dry_run, warn

    invoked = await dry_run(settings, "agentcore runtime", FIXES | AGENTCORE_FIXES)
    try:
        runtime = await asyncio.to_thread(control.get_agent_runtime, settings)
    except ControlPlaneError as exc:
        detail = f"cannot read the runtime's idleRuntimeSessionTimeout ({exc.failure.code})"
        fix = "allow bedrock-agentcore:GetAgentRuntime, or compare it with SESSION_IDLE_SECONDS"
        return [invoked, warn("session ttl", detail, fix)]
    lifecycle = runtime.get("lifecycleConfiguration") or {}
    limit = int(lifecycle.get("idleRuntimeSessionTimeout") or AGENTCORE_IDLE_DEFAULT)
    source = "the runtime's idleRuntimeSessionTimeout"
    return [invoked, idle_check(limit, settings.session_idle_seconds, source)]


def unread(name: str, permission: str, failure: AgentFailure, fixes: Mapping[str, str]) -> Check:
    """A control-plane read (`permission`, e.g. "bedrock:GetKnowledgeBase") that failed: a
    warning when only the read is denied (the status is then not checked), else the failure."""
    from bot.doctor import failed_call, warn

    call = permission.rpartition(":")[2]
    if failure.code == "AccessDeniedException":
        fix = f"allow {permission} to see its status here"
        return warn(name, f"{call} denied; status not checked", fix)
    return failed_call(name, call, failure, fixes)


def harness_status_check(harness: dict[str, object]) -> Check:
    """The harness (and its endpoint, when AGENTCORE_HARNESS_QUALIFIER names one) must be READY."""
    from bot.doctor import fail, ok, warn

    name = f"harness {harness.get('harnessName') or harness.get('harnessId')}"
    endpoint = harness.get("endpoint")
    parts = [(name, harness.get("status"), harness.get("failureReason"))]
    if isinstance(endpoint, dict):
        parts.append((f"endpoint {endpoint.get('endpointName')}", endpoint.get("status"), None))
    for what, status, reason in parts:
        if status in {"CREATING", "UPDATING"}:
            return warn("agentcore harness", f"{what} is {status}", "run doctor again when READY")
        if status != "READY":
            detail = f"{what} is {status}{f': {reason}' if reason else ''}"
            fix = "fix the harness in the AgentCore console, or point AGENTCORE_HARNESS_* elsewhere"
            return fail("agentcore harness", detail, fix)
    shown = ", ".join(f"{what} READY" for what, _, _ in parts)
    return ok("agentcore harness", f"{shown} (version {harness.get('harnessVersion') or '?'})")


async def check_harness(settings: Settings) -> list[Check]:
    """GetHarness (+ GetHarnessEndpoint), a dry InvokeHarness, the idle timeout it runs under."""
    from bot.doctor import FIXES, dry_run

    try:
        status = harness_status_check(await asyncio.to_thread(control.get_harness, settings))
    except ControlPlaneError as exc:
        permission = "bedrock-agentcore:GetHarness"
        status = unread("agentcore harness", permission, exc.failure, HARNESS_FIXES)
    invoked = await dry_run(settings, "harness invoke", FIXES | HARNESS_FIXES)
    source = "AgentCore's idle session timeout"
    ttl = idle_check(AGENTCORE_IDLE_DEFAULT, settings.session_idle_seconds, source)
    return [status, invoked, ttl]


async def check_knowledge_base(settings: Settings) -> list[Check]:
    """GetKnowledgeBase must say ACTIVE; a dry RetrieveAndGenerateStream must answer."""
    from bot.doctor import dry_run, fail, ok

    try:
        kb = await asyncio.to_thread(control.get_knowledge_base, settings)
    except ControlPlaneError as exc:
        found = unread("knowledge base", "bedrock:GetKnowledgeBase", exc.failure, KB_FIXES)
    else:
        what = f"{kb.get('name')} ({kb.get('knowledgeBaseId')})"
        status = kb.get("status")
        reasons = "; ".join(kb.get("failureReasons") or ())
        found = (
            ok("knowledge base", f"{what} is ACTIVE")
            if status == "ACTIVE"
            else fail(
                "knowledge base",
                f"{what} is {status} {reasons}".strip(),
                KB_FIXES["ResourceNotFoundException"],
            )
        )
    asked = await dry_run(settings, "knowledge base question", KB_FIXES, build=build_knowledge_base)
    return [found, asked]
