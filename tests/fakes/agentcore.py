"""Local AgentCore Runtime InvokeAgentRuntime that real boto3 talks to via ``endpoint_url``.

Plays the same ``Script``s as ``tests.fakes.bedrock`` (one test script works against both fakes):
``Text`` → ``data: {"text": …, "citations": […]}``, ``Trace`` → ``data: {"usage": …}`` (or a
text-free ``data: {"trace": …}`` when it has no usage), ``RaiseInStream`` → ``event: error`` +
``data: {"error": code, "message": …}`` then the end, ``HttpError`` → a restJson error response.
With ``json_body`` set the whole answer is one ``application/json`` body ``{"result": …}`` instead.
"""

# ruff: noqa: ASYNC109  # waits take a timeout on purpose: a broken test fails, never hangs

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

from aiohttp import web

from .bedrock import (
    Drop,
    Frame,
    HttpError,
    Interrupt,
    Pause,
    RaiseInStream,
    ReturnControl,
    Script,
    Text,
    Trace,
)
from .scripted import ScriptedServer

__all__ = [
    "Drop",
    "FakeAgentCoreRuntime",
    "Frame",
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
class Invocation:
    """One InvokeAgentRuntime request as the fake saw it."""

    runtime_arn: str
    qualifier: str | None
    session_id: str  # the runtimeSessionId header ("" when missing)
    user_id: str | None
    payload: Any  # the parsed JSON body (or the raw text when it is not JSON)
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


def echo_responder(invocation: Invocation) -> Script:
    """Default responder: a single chunk echoing the prompt."""
    return Script([Text(f"You said: {invocation.prompt}")])


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


def _sse_frame(step: Text | Trace | RaiseInStream | ReturnControl | Interrupt | Frame) -> bytes:
    if isinstance(step, Frame):
        return _sse(step.payload)
    if isinstance(step, Interrupt):
        return _sse({"interrupt": {"id": step.id, "name": step.name, "reason": step.reason}})
    if isinstance(step, ReturnControl):  # each input becomes one question, as Welt agents ask
        return b"".join(
            _sse({"interrupt": {"id": f"{step.invocation_id}-{n}", "name": name, "reason": why}})
            for n, (name, why) in enumerate(_questions(step))
        )
    if isinstance(step, Text):
        data: dict[str, Any] = {"text": step.text}
        if step.citations is not None:
            data["citations"] = simple_citations(step.citations)
        return _sse(data)
    if isinstance(step, Trace):
        if step.usage is None:
            return _sse({"trace": {"rationale": "Looking into it."}})
        return _sse({"usage": {"inputTokens": step.usage[0], "outputTokens": step.usage[1]}})
    return _sse({"error": step.exception_type, "message": step.message}, event="error")


def _questions(step: ReturnControl) -> list[tuple[str, str]]:
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

    def __init__(self, *, json_body: bool = False) -> None:
        super().__init__(echo_responder)
        self.json_body = json_body

    async def start(self) -> None:
        """Listen on a free port and set ``url``."""
        app = web.Application(client_max_size=100 * 1024 * 1024)  # the API's payload limit
        # The ARN arrives percent-encoded ("/" as %2F): match any path, decode it ourselves.
        app.router.add_post(r"/runtimes/{arn:.+}/invocations", self._handle)
        await self._serve(app)

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
            return _error(first.status, first.error_type, first.message, request_id)
        if not 33 <= len(inv.session_id) <= 256:  # as AWS: a length outside 33–256 fails
            message = "runtimeSessionId must be 33 to 256 characters"
            return _error(400, "ValidationException", message, request_id)
        resp = web.StreamResponse(status=200)
        resp.headers["x-amzn-RequestId"] = request_id
        resp.headers[SESSION_HEADER] = inv.session_id
        if self.json_body:
            return await self._play_json(request, inv, script, resp)
        resp.content_type = "text/event-stream"
        resp.charset = "utf-8"
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            for step in script.steps:
                if isinstance(step, Pause):
                    await _pause(step)
                    continue
                await asyncio.sleep(step.delay)
                if isinstance(step, Drop):  # flush first, so the client gets the earlier events
                    await request.writer.drain()
                    if request.transport is not None:
                        request.transport.abort()
                    return resp
                assert not isinstance(step, HttpError), "Script only allows it as its sole step"
                await resp.write(_sse_frame(step))
                await request.writer.drain()  # one HTTP chunk per event, sent now
                if isinstance(step, Text):
                    inv.chunk_times.append(time.monotonic())
            await resp.write_eof()
        except ConnectionError:  # the client hung up early: record it, it is no server fault
            inv.disconnected = True
        return resp

    async def _play_json(
        self, request: web.Request, inv: Invocation, script: Script, resp: web.StreamResponse
    ) -> web.StreamResponse:
        """Run the script's timing, then send everything it said as one JSON document."""
        document: dict[str, Any] = {"result": ""}
        dropped = False
        for step in script.steps:
            if isinstance(step, Pause):
                await _pause(step)
                continue
            await asyncio.sleep(step.delay)
            if isinstance(step, Text):
                document["result"] += step.text
                if step.citations is not None:
                    document.setdefault("citations", []).extend(simple_citations(step.citations))
            elif isinstance(step, Trace) and step.usage is not None:
                document["usage"] = {"inputTokens": step.usage[0], "outputTokens": step.usage[1]}
            elif isinstance(step, RaiseInStream):
                document = {"error": step.exception_type, "message": step.message}
            elif isinstance(step, Frame) and isinstance(step.payload, dict):
                document.update(step.payload)
            dropped = dropped or isinstance(step, Drop)
        body = json.dumps(document, ensure_ascii=False).encode()
        resp.content_type = "application/json"
        resp.content_length = len(body)
        try:
            await resp.prepare(request)
            # A drop sends half the promised Content-Length, then aborts the connection.
            await resp.write(body[: len(body) // 2] if dropped else body)
            await request.writer.drain()
            inv.chunk_times.append(time.monotonic())
            if dropped and request.transport is not None:
                request.transport.abort()
                return resp
            await resp.write_eof()
        except ConnectionError:
            inv.disconnected = True
        return resp


async def _pause(step: Pause) -> None:
    # Without `until`, a fresh Event makes this a plain sleep of `seconds`.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for((step.until or asyncio.Event()).wait(), step.seconds)


def _error(status: int, error_type: str, message: str, request_id: str) -> web.Response:
    headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id}
    return web.json_response({"message": message}, status=status, headers=headers)
