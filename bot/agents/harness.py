"""Amazon Bedrock AgentCore managed harness (InvokeHarness) backend.

A harness is an agent loop AWS runs from configuration (model, tools, skills, memory), so unlike
AgentCore Runtime there is no payload contract of ours: the request is botocore's
`InvokeHarness` shape and the answer its typed event stream (`messageStart`,
`contentBlockStart|Delta|Stop`, `messageStop`, `metadata`, `hookEvent`, in-stream exceptions),
read by `bot.agents.harness_answers`.

- `messages`: the new user message; a fresh session also gets the replayed history before it
  (or, with HISTORY_REPLAY=input_preamble, inside it).
- `runtimeUserId` and `actorId` are team-qualified (`slack:<team>:<user>`), so AgentCore
  Memory actors of two workspaces never collide. AWS's harness security guide: InvokeHarness
  needs `bedrock-agentcore:InvokeHarness` and `bedrock-agentcore:InvokeAgentRuntime` on the
  harness ARN; a user id, as for a runtime, `bedrock-agentcore:InvokeAgentRuntimeForUser` too.
- The Slack ids that Bedrock Agents gets as `sessionAttributes` travel as W3C `baggage`
  (`slackTeamId=…,slackChannelId=…,slackUserId=…`), from Slack's payload, never the text.
- An inline tool (the caller runs it) ends the stream with stopReason `tool_use` and a tool use
  that got no result: that becomes an `ActionRequest`; the resume sends the assistant's
  `toolUse` blocks and the user's `toolResult` blocks, since the harness keeps no
  half-finished tool turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Unpack
from urllib.parse import quote

from bot.agents.agentcore import (
    RUNTIME_PERMISSIONS,
    failure_from_error,
    runtime_session_id,
    runtime_user_id,
)
from bot.agents.base import Api, Plumbing, ThreadedBackend
from bot.agents.bedrock_agents import history_preamble
from bot.agents.harness_answers import HarnessStream
from bot.agents.hints import OperatorHints
from bot.agents.streams import Emit, StreamHandle, pump_events
from bot.events import ActionResult, AgentRequest

DECLINED_RESULT = "The user declined this action; do not run it."


class HarnessBackend(ThreadedBackend):
    """Calls `bedrock-agentcore` InvokeHarness for one harness (and endpoint, if named)."""

    api = Api("invoke_harness", stream="stream", classify=failure_from_error)
    operator_hints = OperatorHints(
        settings="AGENTCORE_HARNESS_ARN, AGENTCORE_HARNESS_QUALIFIER (an endpoint name)",
        # AWS's harness security guide: the runtime permissions on the harness ARN too.
        permissions=f"bedrock-agentcore:InvokeHarness, {RUNTIME_PERMISSIONS} on the harness ARN",
    )

    def __init__(
        self, *, harness_arn: str, qualifier: str | None, **plumbing: Unpack[Plumbing]
    ) -> None:
        super().__init__(**plumbing)
        self._harness_arn = harness_arn
        self._qualifier = qualifier

    def _read(self, stream: Any, response: Any, emit: Emit, handle: StreamHandle) -> None:
        pump_events(stream, HarnessStream(), emit, handle, on_error=failure_from_error)

    def build_params(self, request: AgentRequest) -> dict[str, Any]:
        """The InvokeHarness parameters for one request (pure; unit-tested)."""
        params: dict[str, Any] = {
            "harnessArn": self._harness_arn,
            "runtimeSessionId": runtime_session_id(request.session_id),
            "messages": build_messages(request, preamble=self._replay_as_preamble),
        }
        if self._qualifier:
            params["qualifier"] = self._qualifier
        if user := runtime_user_id(request):
            params["runtimeUserId"] = user
            params["actorId"] = user
        if baggage := slack_baggage(request.session_attributes):
            params["baggage"] = baggage
        return params


def build_messages(request: AgentRequest, *, preamble: bool) -> list[dict[str, Any]]:
    """`messages` of InvokeHarness: history (fresh sessions only), then the question."""
    if request.resume:
        return resume_messages(request.resume)
    text = request.text
    turns: list[tuple[str, str]] = []
    if request.history and preamble:
        text = history_preamble(request) + text
    elif request.history:
        turns = [(m.role, m.text) for m in request.history if m.text.strip()]
    messages: list[dict[str, Any]] = []
    for role, part in [*turns, ("user", text or " ")]:
        if not messages and role != "user":
            continue  # a model conversation starts with the user
        if messages and messages[-1]["role"] == role:  # roles must alternate: merge
            messages[-1]["content"].append({"text": part})
        else:
            messages.append({"role": role, "content": [{"text": part}]})
    return messages


def resume_messages(results: Iterable[ActionResult]) -> list[dict[str, Any]]:
    """The paused tool turn, replayed with its results: assistant `toolUse`, user `toolResult`."""
    uses: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for result in results:
        raw = result.input.raw
        use = {"toolUseId": raw["toolUseId"], "name": raw["name"], "input": raw.get("input", {})}
        if raw.get("type"):
            use["type"] = raw["type"]
        uses.append({"toolUse": use})
        declined = result.confirmed is False
        body = result.body or (DECLINED_RESULT if declined else "done")
        status = "error" if result.failed or declined else "success"
        answer = {"toolUseId": use["toolUseId"], "content": [{"text": body}], "status": status}
        answers.append({"toolResult": answer})
    return [{"role": "assistant", "content": uses}, {"role": "user", "content": answers}]


def slack_baggage(attributes: Mapping[str, str]) -> str:
    """W3C baggage (`key=value,…`, values percent-encoded) carrying the Slack ids."""
    return ",".join(f"{key}={quote(value, safe='')}" for key, value in attributes.items() if value)
