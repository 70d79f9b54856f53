"""Read-only questions to the Bedrock Agents control plane, for `python -m bot doctor`.

Blocking (boto3): call through asyncio.to_thread. `AWS_ENDPOINT_URL_BEDROCK_AGENT` overrides the
endpoint, as boto3 documents.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.agents.errors import failure_from_exception
from bot.events import AgentFailure
from bot.settings import Settings


class ControlPlaneError(Exception):
    """A control-plane call failed; `failure` says how, in the bot's terms."""

    def __init__(self, failure: AgentFailure) -> None:
        super().__init__(failure.code)
        self.failure = failure


def _client(settings: Settings) -> Any:
    config = Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 2})
    return boto3.session.Session().client(
        "bedrock-agent", region_name=settings.aws_region, config=config
    )


def get_agent_alias(settings: Settings) -> dict[str, Any]:
    """GetAgentAlias for BEDROCK_AGENT_ID / BEDROCK_AGENT_ALIAS_ID."""
    try:
        answer = _client(settings).get_agent_alias(
            agentId=settings.bedrock_agent_id or "",
            agentAliasId=settings.bedrock_agent_alias_id or "",
        )
    except (ClientError, BotoCoreError) as exc:
        raise ControlPlaneError(failure_from_exception(exc)) from exc
    return dict(answer["agentAlias"])


def get_agent(settings: Settings) -> dict[str, Any]:
    """GetAgent for BEDROCK_AGENT_ID (its idleSessionTTLInSeconds, among others)."""
    try:
        answer = _client(settings).get_agent(agentId=settings.bedrock_agent_id or "")
    except (ClientError, BotoCoreError) as exc:
        raise ControlPlaneError(failure_from_exception(exc)) from exc
    return dict(answer["agent"])


def get_knowledge_base(settings: Settings) -> dict[str, Any]:
    """GetKnowledgeBase for DM_KNOWLEDGE_BASE_ID (its status, among others)."""
    try:
        answer = _client(settings).get_knowledge_base(
            knowledgeBaseId=settings.dm_knowledge_base_id or ""
        )
    except (ClientError, BotoCoreError) as exc:
        raise ControlPlaneError(failure_from_exception(exc)) from exc
    return dict(answer["knowledgeBase"])


def _agentcore_client(settings: Settings) -> Any:
    # `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL` overrides the endpoint, as boto3 documents.
    config = Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 2})
    return boto3.session.Session().client(
        "bedrock-agentcore-control", region_name=settings.aws_region, config=config
    )


def resource_id(arn: str) -> str:
    """The id at the end of an AgentCore ARN (`…:runtime/<id>`, `…:harness/<id>`)."""
    return arn.rsplit("/", 1)[-1]


def get_agent_runtime(settings: Settings) -> dict[str, Any]:
    """GetAgentRuntime for AGENTCORE_RUNTIME_ARN (its lifecycleConfiguration, among others)."""
    runtime_id = resource_id(settings.agentcore_runtime_arn or "")
    try:
        answer = _agentcore_client(settings).get_agent_runtime(agentRuntimeId=runtime_id)
    except (ClientError, BotoCoreError) as exc:
        raise ControlPlaneError(failure_from_exception(exc)) from exc
    return dict(answer)


def get_harness(settings: Settings) -> dict[str, Any]:
    """GetHarness for AGENTCORE_HARNESS_ARN, and GetHarnessEndpoint when a qualifier is set."""
    client = _agentcore_client(settings)
    harness_id = resource_id(settings.agentcore_harness_arn or "")
    try:
        harness = dict(client.get_harness(harnessId=harness_id)["harness"])
        if settings.agentcore_harness_qualifier:
            endpoint = client.get_harness_endpoint(
                harnessId=harness_id, endpointName=settings.agentcore_harness_qualifier
            )
            harness["endpoint"] = dict(endpoint["endpoint"])
    except (ClientError, BotoCoreError) as exc:
        raise ControlPlaneError(failure_from_exception(exc)) from exc
    return harness
