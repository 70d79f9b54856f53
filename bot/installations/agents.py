"""Per-workspace agents (WORKSPACE_AGENTS): one deployment, a different agent per workspace.

A request goes to the agent configured for its team (`slackTeamId`) or, failing that, its
Enterprise Grid org (`slackEnterpriseId`) — both from Slack's payload, never from the text —
and otherwise to the default agent of AGENT_BACKEND. Each configured agent is a full backend
of its own, built once at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from bot.agents import AgentBackend, build_backend
from bot.events import AgentEvent, AgentRequest
from bot.settings import AgentBackend as BackendName
from bot.settings import Settings


def agent_settings(value: str) -> dict[str, Any]:
    """Pure: the settings that point a backend at `value` ("AGENTID/ALIASID" or a runtime ARN)."""
    if value.startswith("arn:"):
        return {"agent_backend": BackendName.AGENTCORE, "agentcore_runtime_arn": value}
    agent_id, alias_id = value.split("/", 1)
    return {
        "agent_backend": BackendName.BEDROCK_AGENTS,
        "bedrock_agent_id": agent_id,
        "bedrock_agent_alias_id": alias_id,
    }


class WorkspaceAgents:
    """An `AgentBackend` that picks the agent by the request's workspace."""

    def __init__(self, *, default: AgentBackend, by_workspace: Mapping[str, AgentBackend]) -> None:
        self._default = default
        self._by_workspace = dict(by_workspace)

    def pick(self, request: AgentRequest) -> AgentBackend:
        attributes = request.session_attributes
        for workspace in (attributes.get("slackTeamId"), attributes.get("slackEnterpriseId")):
            if workspace and workspace in self._by_workspace:
                return self._by_workspace[workspace]
        return self._default

    def stream(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        return self.pick(request).stream(request)

    async def aclose(self) -> None:
        for backend in (self._default, *self._by_workspace.values()):
            await backend.aclose()


def build_agents(settings: Settings) -> AgentBackend:
    """The configured agent, or one per workspace when WORKSPACE_AGENTS names some."""
    default = build_backend(settings)
    if not settings.workspace_agents:
        return default
    by_workspace = {
        workspace: build_backend(settings.model_copy(update=agent_settings(value)))
        for workspace, value in settings.workspace_agents.items()
    }
    return WorkspaceAgents(default=default, by_workspace=by_workspace)
