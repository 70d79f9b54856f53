"""Harness answers: InvokeHarness's typed events in, agent events out (pure: no I/O).

Text counts only inside assistant messages; the last `messageStop` decides how the answer ended.
An inline tool (the caller runs it) ends the stream with stopReason `tool_use` and a tool use
that got no result: that becomes an `ActionRequest`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.events import (
    ActionInput,
    ActionParameter,
    ActionRequest,
    AgentEvent,
    AgentFailure,
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
