"""Local bedrock-agent-runtime serving InvokeAgent and RetrieveAndGenerateStream side by side.

Both operations live on one endpoint (AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME), so a bot with
Knowledge-Base DMs talks to this one fake for both. RetrieveAndGenerateStream plays the same
``Script``s: ``Text`` → an ``output`` event (and, with citations, a ``citation`` event per
citation after it), ``Trace`` → nothing (RAG streams report no usage), ``RaiseInStream`` → an
exception frame, ``HttpError`` → a restJson error; ``Guardrail`` → a ``guardrail`` event.
Bedrock issues the session id (response header); ``expire`` makes it forget one.
"""

# ruff: noqa: ASYNC109  # waits take a timeout on purpose: a broken test fails, never hangs

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .bedrock import (
    Drop,
    FakeBedrockAgentRuntime,
    HttpError,
    Pause,
    RaiseInStream,
    Script,
    Text,
    Trace,
)
from .eventstream import encode_event, encode_exception

SESSION_HEADER = "x-amzn-bedrock-knowledge-base-session-id"
_HEAD = "Earlier in this conversation:\n"
_TAIL = "\n\nNow the user asks:\n"


@dataclass(frozen=True)
class Guardrail:
    """A ``guardrail`` event: the KB's guardrail acted on this answer."""

    action: str = "INTERVENED"
    delay: float = 0.0


@dataclass
class KbInvocation:
    """One RetrieveAndGenerateStream request as the fake saw it."""

    body: dict[str, Any]
    headers: dict[str, str]
    started_at: float
    session_id: str = ""  # the RAG session this call ran in (sent, or issued now)
    finished_at: float | None = None
    chunk_times: list[float] = field(default_factory=list)
    disconnected: bool = False
    _finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    async def wait_finished(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            await self._finished.wait()

    @property
    def sent_session_id(self) -> str | None:
        return self.body.get("sessionId")

    @property
    def prompt(self) -> str:
        return str(self.body.get("input", {}).get("text", ""))

    @property
    def input_text(self) -> str:
        """The question itself, after any carried turns."""
        return self.prompt.split(_TAIL, 1)[1] if self.prompt.startswith(_HEAD) else self.prompt

    @property
    def conversation_history(self) -> list[dict[str, Any]]:
        """The turns carried in the prompt, in Bedrock's message shape."""
        if not self.prompt.startswith(_HEAD):
            return []
        lines = self.prompt.removeprefix(_HEAD).split(_TAIL, 1)[0].splitlines()
        roles = {"User": "user", "Assistant": "assistant"}
        history = []
        for line in lines:
            speaker, _, text = line.partition(": ")
            history.append({"role": roles.get(speaker, speaker), "content": [{"text": text}]})
        return history

    @property
    def session_attributes(self) -> dict[str, str]:
        return {}  # RetrieveAndGenerate has none

    @property
    def configuration(self) -> dict[str, Any]:
        return dict(self.body.get("retrieveAndGenerateConfiguration") or {})


def _frames(step: Any) -> bytes:
    if isinstance(step, Text):
        out = encode_event("output", {"text": step.text})
        for citation in step.citations or ():
            event = {
                "generatedResponsePart": {"textResponsePart": {"text": step.text}},
                "retrievedReferences": citation.get("retrievedReferences") or [],
            }
            out += encode_event("citation", event)
        return out
    if isinstance(step, Guardrail):
        return encode_event("guardrail", {"action": step.action})
    if isinstance(step, Trace):
        return b""
    assert isinstance(step, RaiseInStream), f"unexpected step {step!r}"
    return encode_exception(step.exception_type, step.message)


class FakeBedrockWithKnowledgeBase(FakeBedrockAgentRuntime):
    """InvokeAgent as the Bedrock fake, plus RetrieveAndGenerateStream from the same scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: set[str] = set()

    def expire(self, session_id: str) -> None:
        """Forget a RAG session, as Bedrock does after its session timeout."""
        self.sessions.discard(session_id)

    @property
    def kb_invocations(self) -> list[KbInvocation]:
        return [i for i in self.invocations if isinstance(i, KbInvocation)]  # type: ignore[misc]

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post(
            "/agents/{agentId}/agentAliases/{agentAliasId}/sessions/{sessionId}/text", self._handle
        )
        app.router.add_post("/retrieveAndGenerateStream", self._handle_rag)
        await self._serve(app)

    async def _handle_rag(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        inv = KbInvocation(
            body=json.loads(raw) if raw else {},
            headers={k.lower(): v for k, v in request.headers.items()},
            started_at=time.monotonic(),
        )
        return await self._recorded(inv, lambda script: self._play_rag(request, inv, script))

    async def _play_rag(
        self, request: web.Request, inv: KbInvocation, script: Script
    ) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        if script.steps and isinstance(first := script.steps[0], HttpError):
            await asyncio.sleep(first.delay)
            return _error(first.status, first.error_type, first.message, request_id)
        if len(inv.prompt) > 1000:
            return _error(400, "ValidationException", "input.text exceeds 1000", request_id)
        sent = inv.sent_session_id
        if sent is not None and sent not in self.sessions:
            message = f"Session with Id {sent} is not valid. Please check and try again."
            return _error(400, "ValidationException", message, request_id)
        inv.session_id = sent or str(uuid.uuid4())
        self.sessions.add(inv.session_id)
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/vnd.amazon.eventstream"
        resp.headers["x-amzn-RequestId"] = request_id
        resp.headers[SESSION_HEADER] = inv.session_id
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            for step in script.steps:
                if isinstance(step, Pause):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for((step.until or asyncio.Event()).wait(), step.seconds)
                    continue
                await asyncio.sleep(step.delay)
                if isinstance(step, Drop):
                    await request.writer.drain()
                    if request.transport is not None:
                        request.transport.abort()
                    return resp
                if frame := _frames(step):
                    await resp.write(frame)
                    await request.writer.drain()
                if isinstance(step, Text):
                    inv.chunk_times.append(time.monotonic())
            await resp.write_eof()
        except ConnectionError:
            inv.disconnected = True
        return resp


def _error(status: int, error_type: str, message: str, request_id: str) -> web.Response:
    headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id}
    return web.json_response({"message": message}, status=status, headers=headers)
