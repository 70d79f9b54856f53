"""Local AgentCore harness InvokeHarness that real boto3 talks to via ``endpoint_url``.

Plays the same ``Script``s as ``tests.fakes.bedrock`` as the harness's typed event stream (AWS
event-stream frames, botocore's ``InvokeHarnessStreamOutput`` members): ``Text`` →
``messageStart`` (once per assistant message) + ``contentBlockDelta`` text, ``Trace`` →
``metadata`` usage (or a ``reasoningContent`` delta when it has no usage), ``RaiseInStream`` →
an exception frame, ``HttpError`` → a restJson error response; the stream ends with
``contentBlockStop`` + ``messageStop``. Harness-only steps: ``ToolUse`` (a tool the harness
runs when it has a ``result``, else an inline tool that pauses the stream with stopReason
``tool_use``), ``Hook`` (a ``hookEvent``), ``Tokens`` (usage with cache counts) and ``Stop``
(the final stopReason). A Bedrock ``ReturnControl`` plays as inline tools the caller must run:
one ``toolUse`` block per function input (toolUseId ``<invocation id>-<n>``, the function's
name, its parameters as input) and stopReason ``tool_use``; the resume's ``toolResult`` blocks
are recorded in ``Invocation.tool_results``.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

from aiohttp import web

from .agentcore import SESSION_HEADER, USER_HEADER, FakeAgentCoreRuntime
from .eventstream import encode_event, encode_exception
from .scripted import EVENT_STREAM, Recorded, ScriptedServer, json_body, open_stream, stream
from .steps import RaiseInStream, ReturnControl, Script, Text, Timed, Trace

__all__ = ["FakeHarness", "Hook", "Invocation", "Stop", "Tokens", "ToolUse"]


@dataclass(frozen=True)
class ToolUse(Timed):
    """A tool use block; with ``result`` the harness ran it, without it the caller must."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    tool_use_id: str = ""
    type: str = "tool_use"
    server: str | None = None
    result: str | None = None
    status: str = "success"


@dataclass(frozen=True)
class Hook(Timed):
    """A ``hookEvent``: a configured lifecycle hook ran (and maybe denied something)."""

    name: str = "policy"
    decision: str | None = "deny"
    type: str = "before_tool_call"
    reason: str = "not allowed"


@dataclass(frozen=True)
class Tokens(Timed):
    """A ``metadata`` event with prompt-cache counts beside input and output tokens."""

    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0


@dataclass(frozen=True)
class Stop(Timed):
    """The stopReason of the final ``messageStop`` (default ``end_turn``)."""

    reason: str


@dataclass
class Invocation(Recorded):
    """One InvokeHarness request as the fake saw it."""

    harness_arn: str
    qualifier: str | None
    session_id: str  # the runtimeSessionId header
    user_id: str | None
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def input_text(self) -> str:
        """The text of the last (the new) user message."""
        last = self.messages[-1] if self.messages else {}
        return "".join(str(block["text"]) for block in last.get("content", ()) if "text" in block)

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        last = self.messages[-1] if self.messages else {}
        return [block["toolResult"] for block in last.get("content", ()) if "toolResult" in block]

    @property
    def conversation_history(self) -> list[dict[str, Any]]:
        """The messages before the new one (already Bedrock's ``role``/``content`` shape)."""
        return self.messages[:-1]

    @property
    def session_attributes(self) -> dict[str, str]:
        """The Slack ids, from the W3C ``baggage`` header."""
        pairs = (item.split("=", 1) for item in self.headers.get("baggage", "").split(",") if item)
        return {key.strip(): unquote(value.strip()) for key, value in pairs}


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    return encode_event(event, payload)


class _Player:
    """The frames of one answer, step by step: what the harness emits, in its order."""

    def __init__(self) -> None:
        self.role: str | None = None
        self.index = 0
        self.text_open = False
        self.paused = False
        self.reason: str | None = None  # a Stop step's stopReason
        self.raised = False  # an exception frame ended the stream: no closing frames

    def _open(self, role: str = "assistant") -> bytes:
        if self.role == role:
            return b""
        self.role, self.index, self.text_open = role, 0, False
        return _frame("messageStart", {"role": role})

    def _close_text(self) -> bytes:
        if not self.text_open:
            return b""
        self.text_open = False
        self.index += 1
        return _frame("contentBlockStop", {"contentBlockIndex": self.index - 1})

    def _stop(self, reason: str) -> bytes:
        self.role = None
        return _frame("messageStop", {"stopReason": reason})

    def step(self, step: Any) -> bytes:
        if isinstance(step, Stop):
            self.reason = step.reason
            return b""
        if isinstance(step, Text):
            out = self._open()
            self.text_open = True
            delta = {"contentBlockIndex": self.index, "delta": {"text": step.text}}
            return out + _frame("contentBlockDelta", delta)
        if isinstance(step, Trace) and step.usage is not None:
            step = Tokens(*step.usage)
        if isinstance(step, Tokens):
            usage = {"inputTokens": step.input, "outputTokens": step.output}
            usage |= {"cacheReadInputTokens": step.cache_read} if step.cache_read else {}
            usage |= {"cacheWriteInputTokens": step.cache_write} if step.cache_write else {}
            usage["totalTokens"] = sum(usage.values())
            return _frame("metadata", {"usage": usage, "metrics": {"latencyMs": 120}})
        if isinstance(step, Trace):
            out = self._open() + self._close_text()
            thinking = {"reasoningContent": {"text": "Looking into it."}}
            out += _frame("contentBlockDelta", {"contentBlockIndex": self.index, "delta": thinking})
            self.index += 1
            return out + _frame("contentBlockStop", {"contentBlockIndex": self.index - 1})
        if isinstance(step, ToolUse):
            return self._tool(step)
        if isinstance(step, ReturnControl):
            return b"".join(self._tool(use) for use in inline_tools(step))
        if isinstance(step, Hook):
            hook = {"hookEventId": str(uuid.uuid4()), "name": step.name, "type": step.type}
            if step.decision:
                hook |= {"decision": step.decision, "reason": step.reason}
            return _frame("hookEvent", hook)
        assert isinstance(step, RaiseInStream), f"unexpected step {step!r}"
        self.raised = True
        return encode_exception(step.exception_type, step.message)

    def _tool(self, step: ToolUse) -> bytes:
        tool_use_id = step.tool_use_id or f"tooluse_{uuid.uuid4().hex[:12]}"
        out = self._open() + self._close_text()
        start: dict[str, Any] = {"toolUseId": tool_use_id, "name": step.name, "type": step.type}
        if step.server:
            start["serverName"] = step.server
        out += _frame(
            "contentBlockStart", {"contentBlockIndex": self.index, "start": {"toolUse": start}}
        )
        tool_input = {"toolUse": {"input": json.dumps(step.input)}}
        out += _frame("contentBlockDelta", {"contentBlockIndex": self.index, "delta": tool_input})
        out += _frame("contentBlockStop", {"contentBlockIndex": self.index})
        self.index += 1
        if step.result is None:
            self.paused = True
            return out
        out += self._stop("tool_use") + self._open("user")
        result = {"toolResult": {"toolUseId": tool_use_id, "status": step.status}}
        out += _frame("contentBlockStart", {"contentBlockIndex": 0, "start": result})
        content = {"toolResult": [{"text": step.result}]}
        out += _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": content})
        out += _frame("contentBlockStop", {"contentBlockIndex": 0})
        return out + self._stop("tool_result")

    def end(self) -> bytes:
        if self.raised:
            return b""
        reason = self.reason or ("tool_use" if self.paused else "end_turn")
        return self._open() + self._close_text() + self._stop(reason)


def inline_tools(step: ReturnControl) -> list[ToolUse]:
    """A return of control as the harness pauses for it: inline tools without a result."""
    uses = []
    for n, member in enumerate(step.inputs):
        function = member.get("functionInvocationInput")
        assert function is not None, "only function inputs have a harness form (no API paths)"
        parameters = {p["name"]: p["value"] for p in function.get("parameters") or []}
        name = str(function["function"])
        uses.append(ToolUse(name, parameters, tool_use_id=f"{step.invocation_id}-{n}"))
    return uses


class FakeHarness(ScriptedServer[Invocation]):
    """aiohttp server on 127.0.0.1 serving InvokeHarness from scripts."""

    session_id_pattern: ClassVar[re.Pattern[str]] = FakeAgentCoreRuntime.session_id_pattern

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/harnesses/invoke", self._handle)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        inv = Invocation(
            harness_arn=request.query.get("harnessArn", ""),
            qualifier=request.query.get("qualifier"),
            session_id=request.headers.get(SESSION_HEADER, ""),
            user_id=request.headers.get(USER_HEADER),
            body=await json_body(request),
        )
        return await self._recorded(request, inv, self._play, _invalid)

    async def _play(
        self, request: web.Request, inv: Invocation, script: Script
    ) -> web.StreamResponse:
        player = _Player()
        resp = open_stream(EVENT_STREAM)
        return await stream(request, inv, resp, script.steps, player.step, player.end)


# botocore's bedrock-agentcore model, shape ActorId (the actors of AgentCore Memory).
ACTOR_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-_/]*(?::[a-zA-Z0-9-_/]+)*[a-zA-Z0-9-_/]*")


def _invalid(inv: Invocation) -> str:
    """What the real API would reject in this request, or ""."""
    if not 33 <= len(inv.session_id) <= 100:
        return "runtimeSessionId must be 33 to 100 characters"
    actor = inv.body.get("actorId")
    if actor is not None and not ACTOR_ID.fullmatch(str(actor)):
        return "actorId must match AgentCore Memory's ActorId pattern"
    messages = inv.messages
    if not messages:
        return "messages must not be empty"
    # The session holds the earlier turns, so a resume may start with the assistant's tool use.
    roles = [m.get("role") for m in messages]
    if roles[-1] != "user" or any(a == b for a, b in itertools.pairwise(roles)):
        return "messages must alternate roles and end with the user's"
    for message in messages:
        for block in message.get("content") or [{}]:
            if len(block) != 1:  # HarnessContentBlock is a union
                return "a content block must have exactly one member"
            if "text" in block and not block["text"]:
                return "text content must not be empty"
            if problem := _invalid_tool_block(block):
                return problem
    return ""


# botocore's bedrock-agentcore model: HarnessToolUseId, HarnessToolName, HarnessToolUseStatus.
_TOOL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def _invalid_tool_block(block: dict[str, Any]) -> str:
    if use := block.get("toolUse"):
        if not (_TOOL_ID.fullmatch(str(use.get("toolUseId"))) and "input" in use):
            return "toolUse needs a valid toolUseId and an input"
        if not _TOOL_ID.fullmatch(str(use.get("name"))):
            return "toolUse name must match [a-zA-Z0-9_-]+ (at most 64)"
    if result := block.get("toolResult"):
        if not _TOOL_ID.fullmatch(str(result.get("toolUseId"))) or "content" not in result:
            return "toolResult needs a valid toolUseId and content"
        if result.get("status", "success") not in ("success", "error"):
            return "toolResult status must be success or error"
    return ""
