"""Local Bedrock Agent Runtime InvokeAgent that real boto3 talks to via ``endpoint_url``."""

# ruff: noqa: ASYNC109  # waits take a timeout on purpose: a broken test fails, never hangs

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from .eventstream import encode_event, encode_exception
from .scripted import ScriptedServer


@dataclass(frozen=True)
class Text:
    """A ``chunk`` event carrying ``text``, optionally with ``attribution.citations``."""

    text: str
    delay: float = 0.0
    citations: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Trace:
    """A ``trace`` event reporting (inputTokens, outputTokens), or a rationale if ``None``."""

    usage: tuple[int, int] | None = (100, 20)
    delay: float = 0.0
    model: str | None = None  # also send the model call's input trace naming this model


@dataclass(frozen=True)
class StepTrace:
    """A ``trace`` event carrying one agent step: ``orchestration`` is one OrchestrationTrace
    member (``invocationInput`` or ``observation``), e.g. from the helpers below."""

    orchestration: dict[str, Any]
    collaborator: str | None = None  # a collaborator agent's trace (TracePart.collaboratorName)
    delay: float = 0.0

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
class RaiseInStream:
    """An exception frame after HTTP 200; ends the stream like AWS does."""

    exception_type: str = "throttlingException"
    message: str = "Rate exceeded"
    delay: float = 0.0


@dataclass(frozen=True)
class HttpError:
    """A non-200 restJson1 error response; must be the only step of its script."""

    status: int
    error_type: str
    message: str
    delay: float = 0.0


@dataclass(frozen=True)
class Pause:
    """Write nothing for ``seconds``, or until ``until`` is set if that comes first."""

    seconds: float
    until: asyncio.Event | None = None


@dataclass(frozen=True)
class Drop:
    """Abort the TCP connection, leaving the chunked body unterminated."""

    delay: float = 0.0


@dataclass(frozen=True)
class Frame:
    """Any extra frame, sent as is — for shapes the real API should never send.

    Bedrock Agents: an event-stream event of type ``event`` (``chunk``, ``trace``, …) whose JSON
    payload is ``payload`` (a chunk's ``bytes`` is base64, as on the wire). AgentCore: an SSE
    ``data:`` line holding ``payload`` as JSON (``event`` is ignored).
    """

    payload: Any
    event: str = "chunk"
    delay: float = 0.0


@dataclass(frozen=True)
class ReturnControl:
    """A ``returnControl`` event: the agent pauses for the caller (ends the stream, as AWS does).

    ``inputs`` are InvocationInputMember objects; build them with ``function_input`` /
    ``api_input``. The AgentCore fake plays each input as an ``interrupt`` event instead.
    """

    invocation_id: str
    inputs: Sequence[dict[str, Any]]
    delay: float = 0.0


@dataclass(frozen=True)
class Interrupt:
    """An AgentCore ``{"interrupt": {"id", "name", "reason"}}`` event (Welt's wire shape)."""

    id: str
    name: str
    reason: Any
    delay: float = 0.0


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


@dataclass
class Invocation:
    """One InvokeAgent request as the fake saw it."""

    agent_id: str
    alias_id: str
    session_id: str
    body: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    started_at: float
    finished_at: float | None = None
    chunk_times: list[float] = field(default_factory=list)
    disconnected: bool = False  # a write failed because the client had gone away
    _finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    async def wait_finished(self, timeout: float = 5.0) -> None:
        """Wait until the server is done with this request (ended, dropped or failed)."""
        async with asyncio.timeout(timeout):
            await self._finished.wait()

    @property
    def input_text(self) -> str:
        return str(self.body.get("inputText", ""))

    @property
    def session_attributes(self) -> dict[str, str]:
        return dict(self.body.get("sessionState", {}).get("sessionAttributes", {}))

    @property
    def conversation_history(self) -> list[dict[str, Any]]:
        history = self.body.get("sessionState", {}).get("conversationHistory", {})
        return list(history.get("messages", []))

    @property
    def invocation_id(self) -> str | None:
        """``sessionState.invocationId``: set when this request returns control results."""
        return self.body.get("sessionState", {}).get("invocationId")

    @property
    def return_control_results(self) -> list[dict[str, Any]]:
        return list(self.body.get("sessionState", {}).get("returnControlInvocationResults", []))


def echo_responder(invocation: Invocation) -> Script:
    """Default responder: a single chunk echoing the input."""
    return Script([Text(f"You said: {invocation.input_text}")])


def _trace_payload(inv: Invocation, step: Trace) -> dict[str, Any]:
    # The model caps TraceId at 16 characters; Trace and OrchestrationTrace are unions,
    # so botocore rejects anything but exactly one member at each level.
    trace_id = f"{uuid.uuid4().hex[:12]}-0"
    if step.usage is None:
        inner: dict[str, Any] = {"rationale": {"text": "Looking into it.", "traceId": trace_id}}
    else:
        usage = {"inputTokens": step.usage[0], "outputTokens": step.usage[1]}
        inner = {"modelInvocationOutput": {"metadata": {"usage": usage}, "traceId": trace_id}}
    return {
        "agentId": inv.agent_id,
        "agentAliasId": inv.alias_id,
        # TSTALIASID is the built-in test alias, which always runs the DRAFT version.
        "agentVersion": "DRAFT" if inv.alias_id == "TSTALIASID" else "1",
        "sessionId": inv.session_id,
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "trace": {"orchestrationTrace": inner},
    }


def _frame(inv: Invocation, step: Step) -> bytes:
    if isinstance(step, Frame):
        return encode_event(step.event, step.payload)
    if isinstance(step, ReturnControl):
        payload = {"invocationId": step.invocation_id, "invocationInputs": list(step.inputs)}
        return encode_event("returnControl", payload)
    assert not isinstance(step, Interrupt), "Interrupt is AgentCore's; use ReturnControl here"
    assert not isinstance(step, Pause | Drop)
    if isinstance(step, StepTrace):
        payload = _trace_payload(inv, Trace(None))
        payload["trace"] = {"orchestrationTrace": step.orchestration}
        if step.collaborator:
            payload["collaboratorName"] = step.collaborator
        return encode_event("trace", payload)
    if isinstance(step, Text):
        # PartBody is a blob: botocore base64-decodes blob members of JSON event payloads.
        chunk: dict[str, Any] = {"bytes": base64.b64encode(step.text.encode()).decode()}
        if step.citations is not None:
            chunk["attribution"] = {"citations": step.citations}
        return encode_event("chunk", chunk)
    if isinstance(step, Trace):
        frame = encode_event("trace", _trace_payload(inv, step))
        if step.model:
            named = _trace_payload(inv, step)
            named["trace"] = {
                "orchestrationTrace": {
                    "modelInvocationInput": {
                        "foundationModel": step.model,
                        "traceId": "model-call-0",
                        "type": "ORCHESTRATION",
                        "text": "the prompt",
                    }
                }
            }
            frame = encode_event("trace", named) + frame
        return frame
    assert isinstance(step, RaiseInStream), "Script only allows HttpError as its sole step"
    return encode_exception(step.exception_type, step.message)


class FakeBedrockAgentRuntime(ScriptedServer[Invocation]):
    """aiohttp server on 127.0.0.1 serving InvokeAgent from scripts."""

    # A sessionId InvokeAgent takes.
    session_id_pattern: ClassVar[re.Pattern[str]] = re.compile(r"[0-9a-zA-Z._:-]{2,100}")

    def __init__(self) -> None:
        super().__init__(echo_responder)

    async def start(self) -> None:
        """Listen on a free port and set ``url``."""
        # inputText may be up to 25 MB, beyond aiohttp's 1 MiB default body limit.
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post(
            "/agents/{agentId}/agentAliases/{agentAliasId}/sessions/{sessionId}/text", self._handle
        )
        await self._serve(app)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        inv = Invocation(
            agent_id=request.match_info["agentId"],
            alias_id=request.match_info["agentAliasId"],
            session_id=request.match_info["sessionId"],
            body=json.loads(raw) if raw else {},
            headers={k.lower(): v for k, v in request.headers.items()},
            started_at=time.monotonic(),
        )
        return await self._recorded(inv, lambda script: self._play(request, inv, script))

    async def _play(
        self, request: web.Request, inv: Invocation, script: Script
    ) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        if script.steps and isinstance(first := script.steps[0], HttpError):
            await asyncio.sleep(first.delay)
            headers = {"x-amzn-ErrorType": first.error_type, "x-amzn-RequestId": request_id}
            return web.json_response(
                {"message": first.message}, status=first.status, headers=headers
            )
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/vnd.amazon.eventstream"
        resp.headers["x-amzn-RequestId"] = request_id
        resp.headers["x-amzn-bedrock-agent-content-type"] = "application/json"
        resp.headers["x-amz-bedrock-agent-session-id"] = inv.session_id
        if memory_id := inv.body.get("memoryId"):
            resp.headers["x-amz-bedrock-agent-memory-id"] = str(memory_id)
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            for step in script.steps:
                if isinstance(step, Pause):  # without `until`, a fresh Event makes this a sleep
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for((step.until or asyncio.Event()).wait(), step.seconds)
                    continue
                await asyncio.sleep(step.delay)
                if isinstance(step, Drop):  # flush first, so the client gets the earlier frames
                    await request.writer.drain()
                    if request.transport is not None:
                        request.transport.abort()
                    return resp
                await resp.write(_frame(inv, step))
                # write() only drains past 64 KiB; drain each frame so chunk_times show slow readers.
                await request.writer.drain()
                if isinstance(step, Text):
                    inv.chunk_times.append(time.monotonic())
            await resp.write_eof()
        except ConnectionError:  # the client hung up early: record it, it is no server fault
            inv.disconnected = True
        return resp
