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
