"""The script vocabulary every fake agent plays: ``Script`` and its steps.

Each fake turns the same steps into its own wire shape (Bedrock event-stream frames, AgentCore
SSE lines, harness events, Knowledge-Base events); ``tests.fakes.bedrock`` re-exports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Timed:
    """A step the fake plays ``delay`` seconds after the one before (every step but Pause)."""

    delay: float = 0.0


@dataclass(frozen=True)
class Text(Timed):
    """A ``chunk`` event carrying ``text``, optionally with ``attribution.citations``."""

    text: str
    citations: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Trace(Timed):
    """A ``trace`` event reporting (inputTokens, outputTokens), or a rationale if ``None``."""

    usage: tuple[int, int] | None = (100, 20)
    model: str | None = None  # also send the model call's input trace naming this model


@dataclass(frozen=True)
class StepTrace(Timed):
    """A ``trace`` event carrying one agent step: ``orchestration`` is one OrchestrationTrace
    member (``invocationInput`` or ``observation``), e.g. from the helpers below."""

    orchestration: dict[str, Any]
    collaborator: str | None = None  # a collaborator agent's trace (TracePart.collaboratorName)

    @classmethod
    def kb_lookup(cls, trace_id: str, query: str = "vacation days") -> StepTrace:
        lookup = {"knowledgeBaseId": "KB12345678", "text": query}
        return cls(_invocation(trace_id, "KNOWLEDGE_BASE", knowledgeBaseLookupInput=lookup))

    @classmethod
    def kb_found(cls, trace_id: str, references: list[dict[str, Any]]) -> StepTrace:
        output = {"retrievedReferences": references}
        return cls(_observation(trace_id, "KNOWLEDGE_BASE", knowledgeBaseLookupOutput=output))

    @classmethod
    def action(cls, trace_id: str, group: str, function: str) -> StepTrace:
        call = {"actionGroupName": group, "function": function, "executionType": "LAMBDA"}
        return cls(_invocation(trace_id, "ACTION_GROUP", actionGroupInvocationInput=call))

    @classmethod
    def action_done(cls, trace_id: str, text: str = "{}") -> StepTrace:
        output = {"text": text}
        return cls(_observation(trace_id, "ACTION_GROUP", actionGroupInvocationOutput=output))


def _invocation(trace_id: str, kind: str, **member: Any) -> dict[str, Any]:
    return {"invocationInput": {"traceId": trace_id, "invocationType": kind, **member}}


def _observation(trace_id: str, kind: str, **member: Any) -> dict[str, Any]:
    return {"observation": {"traceId": trace_id, "type": kind, **member}}


@dataclass(frozen=True)
class RaiseInStream(Timed):
    """An exception frame after HTTP 200; ends the stream like AWS does."""

    exception_type: str = "throttlingException"
    message: str = "Rate exceeded"


@dataclass(frozen=True)
class HttpError(Timed):
    """A non-200 restJson1 error response; must be the only step of its script."""

    status: int
    error_type: str
    message: str


@dataclass(frozen=True)
class Pause:
    """Write nothing for ``seconds``, or until ``until`` is set if that comes first."""

    seconds: float
    until: asyncio.Event | None = None


@dataclass(frozen=True)
class Drop(Timed):
    """Abort the TCP connection, leaving the chunked body unterminated."""


@dataclass(frozen=True)
class Frame(Timed):
    """Any extra frame, sent as is — for shapes the real API should never send.

    Bedrock Agents: an event-stream event of type ``event`` (``chunk``, ``trace``, …) whose JSON
    payload is ``payload`` (a chunk's ``bytes`` is base64, as on the wire). AgentCore: an SSE
    ``data:`` line holding ``payload`` as JSON (``event`` is ignored).
    """

    payload: Any
    event: str = "chunk"


@dataclass(frozen=True)
class ReturnControl(Timed):
    """A ``returnControl`` event: the agent pauses for the caller (ends the stream, as AWS does).

    ``inputs`` are InvocationInputMember objects; build them with ``function_input`` /
    ``api_input``. The AgentCore fake plays each input as an ``interrupt`` event instead.
    """

    invocation_id: str
    inputs: Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Interrupt(Timed):
    """An AgentCore ``{"interrupt": {"id", "name", "reason"}}`` event (Welt's wire shape)."""

    id: str
    name: str
    reason: Any


def function_input(
    action_group: str,
    function: str,
    parameters: dict[str, str] | None = None,
    *,
    kind: str = "USER_CONFIRMATION",
) -> dict[str, Any]:
    """A ``functionInvocationInput`` member (``kind``: the actionInvocationType)."""
    params = [{"name": k, "type": "string", "value": v} for k, v in (parameters or {}).items()]
    return {
        "functionInvocationInput": {
            "actionGroup": action_group,
            "actionInvocationType": kind,
            "agentId": "AGENT12345",
            "function": function,
            "parameters": params,
        }
    }


def api_input(
    action_group: str,
    method: str,
    path: str,
    parameters: dict[str, str] | None = None,
    *,
    body: dict[str, str] | None = None,
    kind: str = "USER_CONFIRMATION",
) -> dict[str, Any]:
    """An ``apiInvocationInput`` member, with request-body properties when ``body`` is given."""
    params = [{"name": k, "type": "string", "value": v} for k, v in (parameters or {}).items()]
    api: dict[str, Any] = {
        "actionGroup": action_group,
        "actionInvocationType": kind,
        "agentId": "AGENT12345",
        "apiPath": path,
        "httpMethod": method,
        "parameters": params,
    }
    if body:
        properties = [{"name": k, "type": "string", "value": v} for k, v in body.items()]
        api["requestBody"] = {"content": {"application/json": {"properties": properties}}}
    return {"apiInvocationInput": api}


Step = (
    Text
    | Trace
    | StepTrace
    | RaiseInStream
    | HttpError
    | Pause
    | Drop
    | ReturnControl
    | Interrupt
    | Frame
)


@dataclass(frozen=True)
class Script:
    """What the fake does for one invocation, step by step."""

    steps: Sequence[Step]

    def __post_init__(self) -> None:
        for i, step in enumerate(self.steps):
            if isinstance(step, HttpError) and len(self.steps) != 1:
                raise ValueError("HttpError must be the only step of a Script")
            if isinstance(step, RaiseInStream | Drop) and i != len(self.steps) - 1:
                raise ValueError(f"{type(step).__name__} must be the last step of a Script")

    @classmethod
    def answer(
        cls,
        text: str,
        *,
        chunk_size: int = 20,
        first_delay: float = 0.0,
        interval: float = 0.0,
        usage: tuple[int, int] | None = (100, 20),
    ) -> Script:
        """A usage trace, then ``text`` in chunks of ``chunk_size`` characters (code points)."""
        # Slicing a str never cuts a UTF-8 sequence, though it may split a ZWJ emoji or flag.
        parts = [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]
        steps: list[Step] = [] if usage is None else [Trace(usage)]
        steps += [Text(p, delay=first_delay if i == 0 else interval) for i, p in enumerate(parts)]
        return cls(steps)
