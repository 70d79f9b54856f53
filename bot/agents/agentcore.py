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
from typing import Any, Unpack

from bot.agents.agentcore_answers import AnswerParser as AnswerParser
from bot.agents.agentcore_answers import answer_events
from bot.agents.agentcore_answers import failure_from_error as failure_from_error
from bot.agents.agentcore_answers import json_events as json_events
from bot.agents.base import Api, Plumbing, ThreadedBackend
from bot.agents.bedrock_agents import history_preamble
from bot.agents.hints import OperatorHints
from bot.agents.interrupts import interrupt_responses
from bot.agents.streams import Emit, StreamHandle, emit_broken
from bot.events import AgentFailure, AgentRequest

# Every call sends runtimeUserId, so it needs its own permission beside the invoke one. A
# harness needs the same on its ARN (AWS's harness security guide).
RUNTIME_PERMISSIONS = (
    "bedrock-agentcore:InvokeAgentRuntime and "
    "bedrock-agentcore:InvokeAgentRuntimeForUser (the bot sends runtimeUserId)"
)


class AgentCoreBackend(ThreadedBackend):
    """Calls `bedrock-agentcore` InvokeAgentRuntime for one runtime endpoint (qualifier)."""

    # A StreamingBody, not an event stream: it keeps the urllib3 response in `_raw_stream` too.
    api = Api("invoke_agent_runtime", stream="response", classify=failure_from_error)
    operator_hints = OperatorHints(
        settings="AGENTCORE_RUNTIME_ARN, AGENTCORE_QUALIFIER",
        permissions=f"{RUNTIME_PERMISSIONS} on the runtime",
    )

    def __init__(self, *, runtime_arn: str, qualifier: str, **plumbing: Unpack[Plumbing]) -> None:
        super().__init__(**plumbing)
        self._runtime_arn = runtime_arn
        self._qualifier = qualifier

    def _read(self, stream: Any, response: Any, emit: Emit, handle: StreamHandle) -> None:
        try:
            for event in answer_events(stream, str(response.get("contentType") or "")):
                if handle.cancelled.is_set():
                    return
                emit(event)
                if isinstance(event, AgentFailure):
                    return
        except Exception as exc:
            emit_broken(exc, emit, handle)

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
