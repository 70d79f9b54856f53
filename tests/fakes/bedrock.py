"""Local Bedrock Agent Runtime InvokeAgent that real boto3 talks to via ``endpoint_url``.

The script vocabulary (``Script``, ``Text``, ``Trace``, …) lives in ``tests.fakes.steps`` and is
re-exported here, where the tests have always imported it from.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from .eventstream import encode_event, encode_exception
from .scripted import EVENT_STREAM, Recorded, ScriptedServer, json_body, open_stream, stream
from .steps import (
    Drop,
    Frame,
    HttpError,
    Interrupt,
    Pause,
    RaiseInStream,
    ReturnControl,
    Script,
    Step,
    StepTrace,
    Text,
    Trace,
    api_input,
    function_input,
)

__all__ = [
    "Drop",
    "FakeBedrockAgentRuntime",
    "Frame",
    "HttpError",
    "Interrupt",
    "Invocation",
    "Pause",
    "RaiseInStream",
    "ReturnControl",
    "Script",
    "Step",
    "StepTrace",
    "Text",
    "Trace",
    "api_input",
    "function_input",
]


@dataclass
class Invocation(Recorded):
    """One InvokeAgent request as the fake saw it."""

    agent_id: str
    alias_id: str
    session_id: str
    body: dict[str, Any]

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

    def routes(self) -> list[web.RouteDef]:
        path = "/agents/{agentId}/agentAliases/{agentAliasId}/sessions/{sessionId}/text"
        return [web.post(path, self._handle)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        inv = Invocation(
            agent_id=request.match_info["agentId"],
            alias_id=request.match_info["agentAliasId"],
            session_id=request.match_info["sessionId"],
            body=await json_body(request),
        )
        return await self._recorded(request, inv, self._play)

    async def _play(
        self, request: web.Request, inv: Invocation, script: Script
    ) -> web.StreamResponse:
        headers = {
            "x-amzn-bedrock-agent-content-type": "application/json",
            "x-amz-bedrock-agent-session-id": inv.session_id,
        }
        if memory_id := inv.body.get("memoryId"):
            headers["x-amz-bedrock-agent-memory-id"] = str(memory_id)
        resp = open_stream(EVENT_STREAM, headers)
        return await stream(request, inv, resp, script.steps, lambda step: _frame(inv, step))
