"""Local AgentCore Runtime InvokeAgentRuntime that real boto3 talks to via ``endpoint_url``.

Plays the same ``Script``s as ``tests.fakes.bedrock`` (one test script works against both fakes):
``Text`` → ``data: {"text": …, "citations": […]}``, ``Trace`` → ``data: {"usage": …}`` (or a
text-free ``data: {"trace": …}`` when it has no usage), ``RaiseInStream`` → ``event: error`` +
``data: {"error": code, "message": …}`` then the end, ``HttpError`` → a restJson error response.
With ``json_body`` set the whole answer is one ``application/json`` body ``{"result": …}`` instead.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

from aiohttp import web

from . import steps
from .scripted import Recorded, ScriptedServer, hang_up, open_stream, stream, timed
from .steps import Drop, HttpError, Pause, RaiseInStream, Script, Text, Trace

__all__ = [
    "Drop",
    "FakeAgentCoreRuntime",
    "HttpError",
    "Invocation",
    "Pause",
    "RaiseInStream",
    "Script",
    "Text",
    "Trace",
]

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
USER_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"


@dataclass
class Invocation(Recorded):
    """One InvokeAgentRuntime request as the fake saw it."""

    runtime_arn: str
    qualifier: str | None
    session_id: str  # the runtimeSessionId header ("" when missing)
    user_id: str | None
    payload: Any  # the parsed JSON body (or the raw text when it is not JSON)

    @property
    def prompt(self) -> str:
        return str(self._field("prompt") or "")

    @property
    def slack(self) -> dict[str, str]:
        return dict(self._field("slack") or {})

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self._field("history") or [])

    def _field(self, name: str) -> Any:
        return self.payload.get(name) if isinstance(self.payload, dict) else None

    # The Bedrock fake's names for the same things, so one end-to-end test reads either fake.

    @property
    def body(self) -> dict[str, Any]:
        """The JSON payload as an object (empty when it is not one)."""
        return self.payload if isinstance(self.payload, dict) else {}

    @property
    def input_text(self) -> str:
        return self.prompt

    @property
    def session_attributes(self) -> dict[str, str]:
        return self.slack

    @property
    def interrupt_responses(self) -> dict[str, Any] | None:
        """The resume payload's answers (None when this request asked a new question)."""
        return self._field("interrupt_responses")

    @property
    def conversation_history(self) -> list[dict[str, Any]]:
        """`history` in Bedrock's shape: ``[{"role": r, "content": [{"text": t}]}]``."""
        return [
            {"role": message.get("role"), "content": [{"text": message.get("content")}]}
            for message in self.history
        ]


def simple_citations(citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bedrock-style ``retrievedReferences`` citations as AgentCore ``{"title", "url"}`` ones."""
    simple: list[dict[str, Any]] = []
    for citation in citations:
        if "title" in citation or "url" in citation:
            simple.append(citation)
            continue
        for reference in citation.get("retrievedReferences") or ():
            # location is {"type": …, "<kind>Location": {"url" | "uri": …}}.
            places = [v for v in (reference.get("location") or {}).values() if isinstance(v, dict)]
            url = next((p.get("url") or p.get("uri") for p in places), None)
            metadata = reference.get("metadata") or {}
            title = metadata.get("title") or metadata.get("x-amz-bedrock-kb-title")
            title = title or (urlparse(url).path.rsplit("/", 1)[-1] if url else None)
            if title:
                simple.append({"title": title, "url": url})
    return simple


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _sse_frame(step: steps.Timed) -> bytes:
    if isinstance(step, steps.Frame):
        return _sse(step.payload)
    if isinstance(step, steps.Interrupt):
        return _sse({"interrupt": {"id": step.id, "name": step.name, "reason": step.reason}})
    if isinstance(step, steps.ReturnControl):  # one question per input, as Welt agents ask
        return b"".join(
            _sse({"interrupt": {"id": f"{step.invocation_id}-{n}", "name": name, "reason": why}})
            for n, (name, why) in enumerate(_questions(step))
        )
    if isinstance(step, steps.Text):
        data: dict[str, Any] = {"text": step.text}
        if step.citations is not None:
            data["citations"] = simple_citations(step.citations)
        return _sse(data)
    if isinstance(step, steps.Trace):
        if step.usage is None:
            return _sse({"trace": {"rationale": "Looking into it."}})
        return _sse({"usage": {"inputTokens": step.usage[0], "outputTokens": step.usage[1]}})
    assert isinstance(step, steps.RaiseInStream), f"unexpected step {step!r}"
    return _sse({"error": step.exception_type, "message": step.message}, event="error")


def _questions(step: steps.ReturnControl) -> list[tuple[str, str]]:
    """(name, reason) per invocation input: the action and its parameters, in words."""
    out = []
    for member in step.inputs:
        action = member.get("functionInvocationInput") or member.get("apiInvocationInput") or {}
        name = action.get("function") or f"{action.get('httpMethod')} {action.get('apiPath')}"
        params = ", ".join(f"{p['name']}={p['value']}" for p in action.get("parameters") or [])
        out.append((str(name), f"Run {name}({params})?"))
    return out


class FakeAgentCoreRuntime(ScriptedServer[Invocation]):
    """aiohttp server on 127.0.0.1 serving InvokeAgentRuntime from scripts."""

    # A runtimeSessionId the API takes (33–256 characters) and its response model allows.
    session_id_pattern: ClassVar[re.Pattern[str]] = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{32,99}")
    client_max_size: ClassVar[int] = 100 * 1024 * 1024  # the API's payload limit

    def __init__(self, *, json_body: bool = False) -> None:
        super().__init__()
        self.json_body = json_body

    def routes(self) -> list[web.RouteDef]:
        # The ARN arrives percent-encoded ("/" as %2F): match any path, decode it ourselves.
        return [web.post(r"/runtimes/{arn:.+}/invocations", self._handle)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        # aiohttp decodes the path except %2F; decode the rest so the ARN reads as sent.
        encoded = request.raw_path.split("?", 1)[0].split("/")[2:-1]
        inv = Invocation(
            runtime_arn=unquote("/".join(encoded)),
            qualifier=request.query.get("qualifier"),
            session_id=request.headers.get(SESSION_HEADER, ""),
            user_id=request.headers.get(USER_HEADER),
            payload=payload,
        )
        return await self._recorded(request, inv, self._play, _invalid)

    async def _play(
        self, request: web.Request, inv: Invocation, script: steps.Script
    ) -> web.StreamResponse:
        if self.json_body:
            return await self._play_json(request, inv, script)
        resp = open_stream("text/event-stream", {SESSION_HEADER: inv.session_id})
        resp.charset = "utf-8"
        return await stream(request, inv, resp, script.steps, _sse_frame)

    async def _play_json(
        self, request: web.Request, inv: Invocation, script: steps.Script
    ) -> web.StreamResponse:
        """Run the script's timing, then send everything it said as one JSON document."""
        document: dict[str, Any] = {"result": ""}
        dropped = False
        async for step in timed(script.steps):
            if isinstance(step, steps.Text):
                document["result"] += step.text
                if step.citations is not None:
                    document.setdefault("citations", []).extend(simple_citations(step.citations))
            elif isinstance(step, steps.Trace) and step.usage is not None:
                document["usage"] = {"inputTokens": step.usage[0], "outputTokens": step.usage[1]}
            elif isinstance(step, steps.RaiseInStream):
                document = {"error": step.exception_type, "message": step.message}
            elif isinstance(step, steps.Frame) and isinstance(step.payload, dict):
                document.update(step.payload)
            dropped = dropped or isinstance(step, steps.Drop)
        return await _send_json(request, inv, document, dropped=dropped)


def _invalid(inv: Invocation) -> str:
    """What the real API would reject in this request, or ""."""
    if not 33 <= len(inv.session_id) <= 256:  # as AWS: a length outside 33–256 fails
        return "runtimeSessionId must be 33 to 256 characters"
    return ""


async def _send_json(
    request: web.Request, inv: Invocation, document: dict[str, Any], *, dropped: bool
) -> web.StreamResponse:
    """One JSON body; a drop sends half the promised Content-Length, then hangs up."""
    body = json.dumps(document, ensure_ascii=False).encode()
    headers = {SESSION_HEADER: inv.session_id}
    resp = open_stream("application/json", headers, length=len(body))
    try:
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2] if dropped else body)
        await request.writer.drain()
        inv.chunk_times.append(time.monotonic())
        if dropped:
            await hang_up(request)
            return resp
        await resp.write_eof()
    except ConnectionError:
        inv.disconnected = True
    return resp
