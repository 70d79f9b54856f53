"""Local `bedrock-agent` control plane (GetAgent, GetAgentAlias, GetKnowledgeBase) for boto3.

Point boto3 at it with `AWS_ENDPOINT_URL_BEDROCK_AGENT=fake.url`. Answers are restJson shaped
per botocore's `bedrock-agent` model; errors carry `x-amzn-ErrorType` like AWS's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .server import ACCOUNT, STAMPS, ControlPlane, aws_error


@dataclass
class FakeAgent:
    """One agent with one alias, as GetAgent/GetAgentAlias report them."""

    agent_id: str = "AGENT12345"
    alias_id: str = "ALIAS12345"
    idle_ttl: int = 3600
    alias_status: str = "PREPARED"
    agent_status: str = "PREPARED"
    alias_version: str = "1"


class FakeBedrockAgentControl(ControlPlane):
    """aiohttp server on 127.0.0.1; `deny = True` answers every call with AccessDenied."""

    def __init__(self, region: str = "us-east-1") -> None:
        super().__init__()
        self.region = region
        self.agents: dict[str, FakeAgent] = {"AGENT12345": FakeAgent()}
        self.knowledge_bases: dict[str, str] = {"KB12345678": "ACTIVE"}  # id → status

    def routes(self) -> list[web.RouteDef]:
        return [
            self.described("/agents/{agentId}/agentaliases/{agentAliasId}/", self._alias),
            self.described("/agents/{agentId}/", self._agent),
            self.described("/knowledgebases/{knowledgeBaseId}", self._knowledge_base),
        ]

    def _arn(self, kind: str, *ids: str) -> str:
        return f"arn:aws:bedrock:{self.region}:{ACCOUNT}:{kind}/{'/'.join(ids)}"

    def _find(self, request: web.Request) -> FakeAgent | web.Response:
        agent = self.agents.get(request.match_info["agentId"])
        if agent is None:
            return aws_error(404, "ResourceNotFoundException", "Agent not found.")
        return agent

    def _alias(self, request: web.Request) -> dict[str, Any] | web.Response:
        agent = self._find(request)
        if isinstance(agent, web.Response):
            return agent
        alias_id = request.match_info["agentAliasId"]
        if alias_id != agent.alias_id:
            return aws_error(404, "ResourceNotFoundException", f"Agent alias {alias_id} not found.")
        alias: dict[str, Any] = {
            "agentId": agent.agent_id,
            "agentAliasId": alias_id,
            "agentAliasName": "live",
            "agentAliasArn": self._arn("agent-alias", agent.agent_id, alias_id),
            "routingConfiguration": [{"agentVersion": agent.alias_version}],
            "agentAliasStatus": agent.alias_status,
            "aliasInvocationState": "ACCEPT_INVOCATIONS",
        }
        return {"agentAlias": alias | STAMPS}

    def _agent(self, request: web.Request) -> dict[str, Any] | web.Response:
        agent = self._find(request)
        if isinstance(agent, web.Response):
            return agent
        body: dict[str, Any] = {
            "agentId": agent.agent_id,
            "agentName": "handbook-agent",
            "agentArn": self._arn("agent", agent.agent_id),
            "agentVersion": "DRAFT",
            "agentStatus": agent.agent_status,
            "idleSessionTTLInSeconds": agent.idle_ttl,
            "agentResourceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/AmazonBedrockExecutionRole",
        }
        return {"agent": body | STAMPS}

    def _knowledge_base(self, request: web.Request) -> dict[str, Any] | web.Response:
        kb_id = request.match_info["knowledgeBaseId"]
        if kb_id not in self.knowledge_bases:
            return aws_error(404, "ResourceNotFoundException", f"Knowledge base {kb_id} not found.")
        body = {
            "knowledgeBaseId": kb_id,
            "name": "handbook",
            "knowledgeBaseArn": self._arn("knowledge-base", kb_id),
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/KnowledgeBaseRole",
            "knowledgeBaseConfiguration": {"type": "VECTOR"},
            "status": self.knowledge_bases[kb_id],
        }
        return {"knowledgeBase": body | STAMPS}
