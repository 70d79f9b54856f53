"""Local bedrock-agent-runtime serving InvokeAgent and RetrieveAndGenerateStream side by side.

Both operations live on one endpoint (AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME), so a bot with
Knowledge-Base DMs talks to this one fake for both. RetrieveAndGenerateStream plays the same
``Script``s: ``Text`` → an ``output`` event (and, with citations, a ``citation`` event per
citation after it), ``Trace`` → nothing (RAG streams report no usage), ``RaiseInStream`` → an
exception frame, ``HttpError`` → a restJson error; ``Guardrail`` → a ``guardrail`` event.
Bedrock issues the session id (response header); ``expire`` makes it forget one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .bedrock import FakeBedrockAgentRuntime
from .eventstream import encode_event, encode_exception
from .scripted import EVENT_STREAM, Recorded, json_body, open_stream, stream
from .steps import RaiseInStream, Script, Text, Timed, Trace

SESSION_HEADER = "x-amzn-bedrock-knowledge-base-session-id"
_HEAD = "Earlier in this conversation:\n"
_TAIL = "\n\nNow the user asks:\n"


@dataclass(frozen=True)
class Guardrail(Timed):
    """A ``guardrail`` event: the KB's guardrail acted on this answer."""

    action: str = "INTERVENED"


@dataclass
class KbInvocation(Recorded):
    """One RetrieveAndGenerateStream request as the fake saw it."""

    body: dict[str, Any]
    session_id: str = ""  # the RAG session this call ran in (sent, or issued now)

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

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.post("/retrieveAndGenerateStream", self._handle_rag)]

    async def _handle_rag(self, request: web.Request) -> web.StreamResponse:
        inv = KbInvocation(body=await json_body(request))
        return await self._recorded(request, inv, self._play_rag, self._invalid)

    async def _play_rag(
        self, request: web.Request, inv: KbInvocation, script: Script
    ) -> web.StreamResponse:
        inv.session_id = inv.sent_session_id or str(uuid.uuid4())
        self.sessions.add(inv.session_id)
        resp = open_stream(EVENT_STREAM, {SESSION_HEADER: inv.session_id})
        return await stream(request, inv, resp, script.steps, _frames)

    def _invalid(self, inv: KbInvocation) -> str:
        """What the real API would reject in this request, or ""."""
        if len(inv.prompt) > 1000:
            return "input.text exceeds 1000"
        sent = inv.sent_session_id
        if sent is not None and sent not in self.sessions:
            return f"Session with Id {sent} is not valid. Please check and try again."
        return ""
