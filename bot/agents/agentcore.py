"""Amazon Bedrock AgentCore Runtime (InvokeAgentRuntime) backend.

AgentCore runs an agent container of our own, so the payload is this bot's contract with it::

    {"prompt": "<the question>",
     "session_id": "<runtimeSessionId>",
     "slack": {"slackTeamId": "T…", "slackChannelId": "C…", "slackUserId": "U…", "orderId": "…"},
     "history": [{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}]}

`slack` is what Bedrock Agents gets as `sessionAttributes` (from Slack's payload, never from the
message text; `orderId` only for the order command); `history` only seeds a fresh session (with
HISTORY_REPLAY=input_preamble it is written into `prompt` instead and `history` is left out).
The `runtimeUserId` header (and so the container's user id) is team-qualified,
`slack:<team>:<user>`, so AgentCore Memory actors and per-user tokens never mix two workspaces'
users; sending it needs `bedrock-agentcore:InvokeAgentRuntimeForUser` beside
`bedrock-agentcore:InvokeAgentRuntime`.
Answers are read by `AnswerParser`: server-sent events, a JSON document or plain text.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bot.agents.agentcore_answers import AnswerParser as AnswerParser
from bot.agents.agentcore_answers import answer_events
from bot.agents.agentcore_answers import failure_from_error as failure_from_error
from bot.agents.agentcore_answers import json_events as json_events
from bot.agents.base import (
    Emit,
    RetryPolicy,
    StreamHandle,
    ThreadedBackend,
    abort_stream,
)
from bot.agents.bedrock_agents import history_preamble
from bot.agents.interrupts import interrupt_responses
from bot.events import (
    AgentFailure,
    AgentRequest,
    FailureKind,
)


class AgentCoreBackend(ThreadedBackend):
    """Calls `bedrock-agentcore` InvokeAgentRuntime for one runtime endpoint (qualifier)."""

    def __init__(
        self,
        *,
        client: Any,
        runtime_arn: str,
        qualifier: str,
        executor: ThreadPoolExecutor,
        idle_timeout: float,
        retry: RetryPolicy,
        replay_as_preamble: bool = False,
    ) -> None:
        super().__init__(executor=executor, idle_timeout=idle_timeout, retry=retry)
        self._client = client
        self._runtime_arn = runtime_arn
        self._qualifier = qualifier
        self._replay_as_preamble = replay_as_preamble

    def _invoke(self, request: AgentRequest, emit: Emit, handle: StreamHandle) -> None:
        try:
            response = self._client.invoke_agent_runtime(**self.build_params(request))
        except (ClientError, BotoCoreError) as exc:
            emit(failure_from_error(exc))
            return
        body = response["response"]
        # StreamingBody keeps the urllib3 response in `_raw_stream`, as event streams do.
        handle.attach(lambda: abort_stream(body))
        try:
            for event in answer_events(body, str(response.get("contentType") or "")):
                if handle.cancelled.is_set():
                    return
                emit(event)
                if isinstance(event, AgentFailure):
                    return
        except Exception as exc:  # a dropped connection surfaces as urllib3/botocore errors
            if not handle.cancelled.is_set():
                kind = FailureKind.TIMEOUT if "Timeout" in type(exc).__name__ else None
                emit(AgentFailure(kind or FailureKind.INTERRUPTED, type(exc).__name__))

    def build_params(self, request: AgentRequest) -> dict[str, Any]:
        """The InvokeAgentRuntime parameters for one request (pure; unit-tested)."""
        session = runtime_session_id(request.session_id)
        params: dict[str, Any] = {
            "agentRuntimeArn": self._runtime_arn,
            "runtimeSessionId": session,
            "contentType": "application/json",
            "accept": "text/event-stream, application/json",
            "payload": json.dumps(
                build_payload(request, session, preamble=self._replay_as_preamble),
                ensure_ascii=False,
            ).encode(),
        }
        if self._qualifier:
            params["qualifier"] = self._qualifier
        if user := runtime_user_id(request):  # the API rejects an empty header value
            params["runtimeUserId"] = user
        return params


def build_payload(
    request: AgentRequest, runtime_session: str, *, preamble: bool = False
) -> dict[str, Any]:
    """The JSON document the agent container receives (the contract in the module docstring)."""
    preamble = preamble and bool(request.history)
    payload: dict[str, Any] = {
        "prompt": history_preamble(request) + request.text if preamble else request.text,
        "session_id": runtime_session,
        "slack": dict(request.session_attributes),
    }
    if (
        request.resume
    ):  # answers to the agent's interrupts replace the prompt (bot.agents.interrupts)
        del payload["prompt"]
        payload["interrupt_responses"] = interrupt_responses(request.resume)
    if request.history and not preamble:
        payload["history"] = [{"role": m.role, "content": m.text} for m in request.history]
    return payload


def runtime_user_id(request: AgentRequest) -> str:
    """`slack:<team>:<user>`: a Slack user id is unique only within its workspace (or org).

    Colon-separated segments fit AgentCore Memory's ActorId pattern, so it serves as actorId.
    """
    if not request.user_id:
        return ""
    team = request.session_attributes.get("slackTeamId") or "T"
    return f"slack:{team}:{request.user_id}"


def runtime_session_id(session_id: str) -> str:
    """A valid runtimeSessionId for a bot session id: stable, distinct, 40–100 characters.

    The API wants 33–256 characters; its response model allows only `[a-zA-Z0-9][a-zA-Z0-9-_]*`
    up to 100, so ":" and "." become "_" and a hash of the untouched id keeps ids apart.
    """
    readable = re.sub(r"[^A-Za-z0-9-]", "_", session_id)[:61]
    digest = hashlib.sha256(session_id.encode()).hexdigest()[:32]
    return f"slack-{readable}-{digest}"
