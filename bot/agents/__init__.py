"""Agent backends: the only package that imports boto3. The pipeline sees `AgentBackend`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from bot.agents.agentcore import AgentCoreBackend
from bot.agents.base import AgentBackend, Plumbing, RetryPolicy
from bot.agents.bedrock_agents import BedrockAgentsBackend
from bot.agents.harness import HarnessBackend
from bot.agents.hints import hints_for
from bot.agents.knowledge_base import DmRouter, KnowledgeBaseBackend, RecentTurns
from bot.rag_sessions import RagSessions
from bot.settings import AgentBackend as BackendName
from bot.settings import HistoryReplay, Settings

__all__ = [
    "AgentBackend",
    "RetryPolicy",
    "build_backend",
    "build_knowledge_base",
    "hints_for",
    "route_dms",
]

# The boto3 service each backend's API belongs to.
_SERVICES = {
    BackendName.BEDROCK_AGENTS: "bedrock-agent-runtime",
    BackendName.AGENTCORE: "bedrock-agentcore",
    BackendName.HARNESS: "bedrock-agentcore",
}


def _config(settings: Settings) -> Config:
    return Config(
        connect_timeout=5,
        read_timeout=300,
        # One retry policy, ours (bot.agents.base): it knows whether text already reached Slack.
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=settings.agent_max_workers,
        user_agent_extra="slack-bedrock-bot",
    )


def _plumbing(settings: Settings, service: str, *, threads: str) -> Plumbing:
    """A backend's client, worker pool, timeouts and retries, as the settings say."""
    client = boto3.session.Session().client(
        service, region_name=settings.aws_region, config=_config(settings)
    )
    return Plumbing(
        client=client,
        executor=ThreadPoolExecutor(
            max_workers=settings.agent_max_workers, thread_name_prefix=threads
        ),
        idle_timeout=settings.agent_idle_timeout_seconds,
        retry=RetryPolicy(
            attempts=settings.agent_retry_attempts, base_delay=settings.agent_retry_base_seconds
        ),
        replay_as_preamble=settings.history_replay is HistoryReplay.INPUT_PREAMBLE,
    )


def build_knowledge_base(
    settings: Settings, *, sessions: RagSessions | None = None, recent: RecentTurns | None = None
) -> KnowledgeBaseBackend:
    """The DM answerer of DM_KNOWLEDGE_BASE_ID / DM_MODEL_ARN (RetrieveAndGenerateStream)."""
    return KnowledgeBaseBackend(
        knowledge_base_id=settings.dm_knowledge_base_id or "",
        model_arn=settings.dm_model_arn or "",
        sessions=sessions,
        recent=recent,
        **_plumbing(settings, "bedrock-agent-runtime", threads="kb"),
    )


def route_dms(agent: AgentBackend, dms: AgentBackend) -> AgentBackend:
    """One backend for the pipeline: DMs to `dms`, every other surface to `agent`."""
    return DmRouter(agent=agent, dms=dms)


def build_backend(settings: Settings) -> AgentBackend:
    """Build the configured backend once, with its client, pool and timeouts."""
    if settings.agent_backend is BackendName.DEMO:
        from bot.playground.demo_agent import DemoAgent  # no AWS: nothing below is needed

        return DemoAgent()
    plumbing = _plumbing(settings, _SERVICES[settings.agent_backend], threads="agent")
    if settings.agent_backend is BackendName.BEDROCK_AGENTS:
        return BedrockAgentsBackend(
            agent_id=settings.bedrock_agent_id or "",
            alias_id=settings.bedrock_agent_alias_id or "",
            **plumbing,
        )
    if settings.agent_backend is BackendName.HARNESS:
        return HarnessBackend(
            harness_arn=settings.agentcore_harness_arn or "",
            qualifier=settings.agentcore_harness_qualifier,
            **plumbing,
        )
    return AgentCoreBackend(
        runtime_arn=settings.agentcore_runtime_arn or "",
        qualifier=settings.agentcore_qualifier,
        **plumbing,
    )
