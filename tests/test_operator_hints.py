"""Each backend states its own operator hints: its settings, its IAM actions, no other's."""

from __future__ import annotations

import re

import pytest

from bot import doctor_backends
from bot.agents import hints_for
from bot.agents.agentcore import AgentCoreBackend
from bot.agents.base import ThreadedBackend
from bot.agents.bedrock_agents import BedrockAgentsBackend
from bot.agents.harness import HarnessBackend
from bot.agents.hints import COMMON_HINTS
from bot.agents.knowledge_base import DmRouter, KnowledgeBaseBackend
from bot.events import AgentRequest, FailureKind

IAM_ACTION = re.compile(r"\bbedrock(?:-agentcore)?:[A-Za-z]+")
# The API each backend calls: named in its own hint and in no other's.
CALLS = {
    BedrockAgentsBackend: "bedrock:InvokeAgent",
    AgentCoreBackend: "bedrock-agentcore:InvokeAgentRuntime",
    HarnessBackend: "bedrock-agentcore:InvokeHarness",
    KnowledgeBaseBackend: "bedrock:RetrieveAndGenerate",
}
# Everything each hint asks to allow. InvokeHarness needs the runtime's two actions on the
# harness ARN as well (AWS's harness security guide; bot/agents/harness.py).
RUNTIME_USER = "bedrock-agentcore:InvokeAgentRuntimeForUser"
NEEDS = {
    BedrockAgentsBackend: {"bedrock:InvokeAgent"},
    AgentCoreBackend: {"bedrock-agentcore:InvokeAgentRuntime", RUNTIME_USER},
    HarnessBackend: {
        "bedrock-agentcore:InvokeHarness",
        "bedrock-agentcore:InvokeAgentRuntime",
        RUNTIME_USER,
    },
    KnowledgeBaseBackend: {
        "bedrock:RetrieveAndGenerate",
        "bedrock:Retrieve",
        "bedrock:InvokeModel",
    },
}
SETTINGS = {
    BedrockAgentsBackend: "BEDROCK_AGENT_ID",
    AgentCoreBackend: "AGENTCORE_RUNTIME_ARN",
    HarnessBackend: "AGENTCORE_HARNESS_ARN",
    KnowledgeBaseBackend: "DM_KNOWLEDGE_BASE_ID",
}
BACKENDS = list(CALLS)


def misconfigured(backend: type[ThreadedBackend]) -> str:
    return backend.operator_hints.by_kind()[FailureKind.MISCONFIGURED]


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
def test_the_misconfigured_hint_names_this_backends_actions_and_settings_only(
    backend: type[ThreadedBackend],
) -> None:
    hint = misconfigured(backend)

    assert CALLS[backend] in IAM_ACTION.findall(hint)
    assert set(IAM_ACTION.findall(hint)) == NEEDS[backend]
    assert SETTINGS[backend] in hint and "AWS_REGION" in hint
    assert not [b for b in BACKENDS if b is not backend and SETTINGS[b] in hint]


def test_no_hint_names_the_api_another_backend_calls_but_the_harness_the_runtimes() -> None:
    shared = {
        (a.__name__, b.__name__)
        for a in BACKENDS
        for b in BACKENDS
        if a is not b and CALLS[b] in IAM_ACTION.findall(misconfigured(a))
    }
    assert shared == {("HarnessBackend", "AgentCoreBackend")}


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
def test_the_other_kinds_are_the_same_for_every_backend(backend: type[ThreadedBackend]) -> None:
    hints = backend.operator_hints.by_kind()
    assert {kind: hints[kind] for kind in COMMON_HINTS} == COMMON_HINTS


@pytest.mark.parametrize(
    ("fixes", "backend"),
    [
        (doctor_backends.AGENTCORE_FIXES, AgentCoreBackend),
        (doctor_backends.HARNESS_FIXES, HarnessBackend),
        (doctor_backends.KB_FIXES, KnowledgeBaseBackend),
    ],
    ids=["agentcore", "harness", "knowledge-base"],
)
def test_doctor_prints_the_texts_the_pipeline_logs(
    fixes: dict[str, str], backend: type[ThreadedBackend]
) -> None:
    hints = backend.operator_hints
    assert fixes["AccessDeniedException"] == hints.denied
    assert fixes["ResourceNotFoundException"] == hints.not_found
    assert hints.denied in misconfigured(backend) and hints.not_found in misconfigured(backend)


def request(surface: str) -> AgentRequest:
    return AgentRequest("q", "s", {}, user_id="U1", surface=surface)


def test_a_dm_is_logged_with_the_knowledge_bases_hint_a_mention_with_the_agents() -> None:
    agent = BedrockAgentsBackend.__new__(BedrockAgentsBackend)
    dms = KnowledgeBaseBackend.__new__(KnowledgeBaseBackend)
    router = DmRouter(agent=agent, dms=dms)

    dm = hints_for(router, request("dm"))[FailureKind.MISCONFIGURED]
    mention = hints_for(router, request("mention"))[FailureKind.MISCONFIGURED]

    assert "bedrock:RetrieveAndGenerate" in dm and "bedrock:InvokeAgent" not in dm
    assert "bedrock:InvokeAgent" in mention and "RetrieveAndGenerate" not in mention


def test_a_backend_that_states_no_hints_gets_the_common_ones() -> None:
    assert hints_for(object(), request("mention")) == COMMON_HINTS
