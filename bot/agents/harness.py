"""Amazon Bedrock AgentCore managed harness (InvokeHarness) backend.

A harness is an agent loop AWS runs from configuration (model, tools, skills, memory), so unlike
AgentCore Runtime there is no payload contract of ours: the request is botocore's
`InvokeHarness` shape and the answer its typed event stream (`messageStart`,
`contentBlockStart|Delta|Stop`, `messageStop`, `metadata`, `hookEvent`, in-stream exceptions).

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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Unpack
from urllib.parse import quote

from bot.agents.agentcore import (
    RUNTIME_USER_PERMISSION,
    failure_from_error,
    runtime_session_id,
    runtime_user_id,
)
from bot.agents.base import Api, Plumbing, ThreadedBackend
from bot.agents.bedrock_agents import history_preamble
from bot.agents.hints import OperatorHints
from bot.agents.streams import Emit, StreamHandle, pump_events
from bot.events import (
    ActionInput,
    ActionParameter,
    ActionRequest,
    ActionResult,
    AgentEvent,
    AgentFailure,
    AgentRequest,
    FailureKind,
    Progress,
    StepStatus,
    TextDelta,
    Usage,
)

# How an answer that stopped for these reasons ends for the user (texts: bot.formatting).
STOP_FAILURES: dict[str, FailureKind] = {
    "max_tokens": FailureKind.INTERRUPTED,
    "max_output_tokens_exceeded": FailureKind.INTERRUPTED,
    "content_filtered": FailureKind.INVALID_INPUT,
    "model_context_window_exceeded": FailureKind.INVALID_INPUT,
    "timeout_exceeded": FailureKind.TIMEOUT,
    "max_iterations_exceeded": FailureKind.UNKNOWN,
    "malformed_model_output": FailureKind.UNKNOWN,
    "malformed_tool_use": FailureKind.UNKNOWN,
    "interrupted": FailureKind.INTERRUPTED,
    "partial_turn": FailureKind.INTERRUPTED,
    "hook_stopped": FailureKind.INVALID_INPUT,
}
DECLINED_RESULT = "The user declined this action; do not run it."


class HarnessBackend(ThreadedBackend):
    """Calls `bedrock-agentcore` InvokeHarness for one harness (and endpoint, if named)."""

    api = Api("invoke_harness", stream="stream", classify=failure_from_error)
    operator_hints = OperatorHints(
        settings="AGENTCORE_HARNESS_ARN, AGENTCORE_HARNESS_QUALIFIER (an endpoint name)",
        # AWS's harness security guide: the runtime permissions on the harness ARN too.
        permissions=(
            "bedrock-agentcore:InvokeHarness, bedrock-agentcore:InvokeAgentRuntime and "
            f"{RUNTIME_USER_PERMISSION} on the harness ARN"
        ),
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


@dataclass(slots=True)
class _ToolCall:
    tool_use_id: str
    name: str
    type: str
    server: str
    input_parts: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.server}: {self.name}" if self.server else self.name

    def input(self) -> Any:
        raw = "".join(self.input_parts)
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {"input": raw}


class HarnessStream:
    """Typed harness events in, agent events out (pure: no I/O).

    Text counts only inside assistant messages; reasoning, tool input and tool results are
    never answer text. The last `messageStop` decides how the answer ended.
    """

    def __init__(self) -> None:
        self.role = "assistant"
        self.stop_reason = ""
        self._blocks: dict[int, _ToolCall] = {}
        self._calls: dict[str, _ToolCall] = {}
        self._unanswered: dict[str, _ToolCall] = {}

    def feed(self, raw: Mapping[str, Any]) -> list[AgentEvent]:
        if "messageStart" in raw:
            self.role = str(raw["messageStart"].get("role") or "assistant")
        elif "contentBlockStart" in raw:
            return self._start(raw["contentBlockStart"])
        elif "contentBlockDelta" in raw:
            return self._delta(raw["contentBlockDelta"])
        elif "contentBlockStop" in raw:
            self._blocks.pop(int(raw["contentBlockStop"].get("contentBlockIndex") or 0), None)
        elif "messageStop" in raw:
            self.stop_reason = str(raw["messageStop"].get("stopReason") or "")
        elif "metadata" in raw:
            return usage_events(raw["metadata"].get("usage") or {})
        elif "hookEvent" in raw:
            return hook_events(raw["hookEvent"])
        return []

    def _start(self, event: Mapping[str, Any]) -> list[AgentEvent]:
        start = event.get("start") or {}
        if use := start.get("toolUse"):
            call = _ToolCall(
                str(use["toolUseId"]),
                str(use.get("name") or "tool"),
                str(use.get("type") or ""),
                str(use.get("serverName") or ""),
            )
            self._blocks[int(event.get("contentBlockIndex") or 0)] = call
            self._calls[call.tool_use_id] = self._unanswered[call.tool_use_id] = call
            return [Progress(call.tool_use_id, call.title, StepStatus.IN_PROGRESS)]
        if result := start.get("toolResult"):
            tool_use_id = str(result["toolUseId"])
            self._unanswered.pop(tool_use_id, None)
            known = self._calls.get(tool_use_id)
            status = StepStatus.ERROR if result.get("status") == "error" else StepStatus.COMPLETE
            return [Progress(tool_use_id, known.title if known else "tool", status)]
        return []

    def _delta(self, event: Mapping[str, Any]) -> list[AgentEvent]:
        delta = event.get("delta") or {}
        if "text" in delta and self.role == "assistant":
            return [TextDelta(str(delta["text"]))] if delta["text"] else []
        if "toolUse" in delta:
            call = self._blocks.get(int(event.get("contentBlockIndex") or 0))
            if call is not None:
                call.input_parts.append(str(delta["toolUse"].get("input") or ""))
        return []  # reasoningContent, toolResult, toolResultMetadata: never answer text

    def close(self) -> list[AgentEvent]:
        """At the clean end of the stream: a pause for the caller, a failure, or nothing."""
        if self.stop_reason == "tool_use" and self._unanswered:
            return [pause_request(list(self._unanswered.values()))]
        kind = STOP_FAILURES.get(self.stop_reason)
        return [AgentFailure(kind, self.stop_reason)] if kind is not None else []


def pause_request(calls: list[_ToolCall]) -> ActionRequest:
    """Inline tools the caller must run (after a person confirms them)."""
    inputs = []
    for call in calls:
        value = call.input()
        items = value.items() if isinstance(value, Mapping) else [("input", value)]
        parameters = tuple(
            ActionParameter(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in items
        )
        raw = {"toolUseId": call.tool_use_id, "name": call.name, "input": value, "type": call.type}
        inputs.append(
            ActionInput(
                kind="tool",
                action_group=call.server,
                name=call.name,
                parameters=parameters,
                needs_confirmation=True,
                needs_result=True,
                raw=raw,
            )
        )
    return ActionRequest(invocation_id=calls[0].tool_use_id, inputs=tuple(inputs))


def usage_events(usage: Mapping[str, Any]) -> list[AgentEvent]:
    """One model call's tokens, cache reads and writes apart (as the harness reports them)."""
    counts = [
        int(usage.get(key) or 0)
        for key in ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    ]
    if not any(counts):
        return []
    return [Usage(counts[0], counts[1], cache_read_tokens=counts[2], cache_write_tokens=counts[3])]


def hook_events(hook: Mapping[str, Any]) -> list[AgentEvent]:
    """A hook that denied something shows as a failed step (its reason is for operators)."""
    if hook.get("decision") != "deny":
        return []
    name = str(hook.get("name") or "hook")
    step = f"hook-{hook.get('hookEventId') or name}"
    return [Progress(step, f"{name} denied {hook.get('type') or 'a step'}", StepStatus.ERROR)]
