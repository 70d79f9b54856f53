"""Knowledge-Base DMs: RetrieveAndGenerateStream (bedrock-agent-runtime), no agent involved.

With DM_KNOWLEDGE_BASE_ID and DM_MODEL_ARN set, `DmRouter` sends DM turns here and every other
surface to the configured agent. Bedrock issues the RAG `sessionId`; `RagSessions` keeps it per
conversation and it goes back on follow-ups. A session Bedrock no longer knows
(ValidationException about the session) is forgotten and the question asked again in a new
one, with the recent turns written into the prompt — as is done for a fresh bot session.
The input is at most 1,000 characters (RetrieveAndGenerateInput), so turns are cut to fit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Unpack

from bot import formatting
from bot.agents.base import AgentBackend, Api, Plumbing, ThreadedBackend
from bot.agents.bedrock_agents import sources_from_attribution
from bot.agents.errors import failure_from_exception
from bot.agents.hints import OperatorHints
from bot.agents.streams import Emit, StreamHandle, pump_events
from bot.events import (
    AgentEvent,
    AgentFailure,
    AgentRequest,
    Citations,
    FailureKind,
    HistoryMessage,
    Source,
    TextDelta,
)
from bot.limits import KB_INPUT_LIMIT as INPUT_LIMIT
from bot.rag_sessions import RagSessions

RecentTurns = Callable[[str], Awaitable[Sequence[HistoryMessage]]]
_HEAD = "Earlier in this conversation:\n"
_TAIL = "\n\nNow the user asks:\n"


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """Internal: the RAG session id Bedrock returned for this call (never leaves this module)."""

    session_id: str


class KnowledgeBaseBackend(ThreadedBackend):
    """Answers from one Knowledge Base with one generation model, streamed with citations."""

    api = Api("retrieve_and_generate_stream", stream="stream", classify=failure_from_exception)
    operator_hints = OperatorHints(
        settings="DM_KNOWLEDGE_BASE_ID, DM_MODEL_ARN",
        permissions=(
            "bedrock:RetrieveAndGenerate and bedrock:Retrieve on the knowledge base and "
            "bedrock:InvokeModel on DM_MODEL_ARN"
        ),
    )

    def __init__(
        self,
        *,
        knowledge_base_id: str,
        model_arn: str,
        sessions: RagSessions | None,
        recent: RecentTurns | None,
        **plumbing: Unpack[Plumbing],
    ) -> None:
        super().__init__(**plumbing)
        self._kb_id = knowledge_base_id
        self._model_arn = model_arn
        self._sessions = sessions
        self._recent = recent

    async def stream(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        conversation = request.conversation
        keep = self._sessions if conversation else None
        rag = await keep.get(conversation, bot_session=request.session_id) if keep else None
        history = await self._history(request) if rag is None else ()
        if len(request.text) > INPUT_LIMIT:
            note = formatting.TRUNCATED_INPUT_NOTE.format(
                length=len(request.text), limit=INPUT_LIMIT
            )
            yield TextDelta(note + "\n\n")
        for _ in range(2):  # a second time only when Bedrock forgot the session
            call = replace(request, text=kb_prompt(request.text, history), session_id=rag or "")
            expired = False
            async for event in super().stream(call):
                if isinstance(event, IssuedSession):
                    if keep:
                        await keep.keep(
                            conversation,
                            bot_session=request.session_id,
                            rag_session=event.session_id,
                        )
                    continue
                if rag and isinstance(event, AgentFailure) and session_expired(event):
                    expired = True
                    break
                yield event
            if not expired:
                return
            if keep:
                await keep.forget(conversation)
            rag, history = None, await self._history(request)

    async def _history(self, request: AgentRequest) -> Sequence[HistoryMessage]:
        if request.history or self._recent is None or not request.conversation:
            return request.history
        return await self._recent(request.conversation)

    def _read(self, stream: Any, response: Any, emit: Emit, handle: StreamHandle) -> None:
        emit(IssuedSession(str(response["sessionId"])))
        pump_events(stream, KnowledgeBaseStream(), emit, handle, on_error=failure_from_exception)

    def build_params(self, request: AgentRequest) -> dict[str, Any]:
        """RetrieveAndGenerateStream parameters; `request.session_id` is the RAG session or ""."""
        params: dict[str, Any] = {
            "input": {"text": request.text[:INPUT_LIMIT]},
            "retrieveAndGenerateConfiguration": {
                "type": "KNOWLEDGE_BASE",
                "knowledgeBaseConfiguration": {
                    "knowledgeBaseId": self._kb_id,
                    "modelArn": self._model_arn,
                },
            },
        }
        if request.session_id:
            params["sessionId"] = request.session_id
        return params


def kb_prompt(question: str, history: Sequence[HistoryMessage], limit: int = INPUT_LIMIT) -> str:
    """The question, after as many of the latest turns as fit in `limit` characters (pure)."""
    budget = limit - len(question) - len(_HEAD) - len(_TAIL)
    lines: list[str] = []
    for message in reversed(history):
        speaker = "User" if message.role == "user" else "Assistant"
        line = f"{speaker}: {' '.join(message.text.split())}"
        room = budget - sum(len(kept) + 1 for kept in lines)
        if len(line) + 1 > room:
            if room > 40:  # a cut turn still says what it was about
                lines.insert(0, line[: room - 2] + "…")
            break
        lines.insert(0, line)
    if not lines:
        return question[:limit]
    return _HEAD + "\n".join(lines) + _TAIL + question


def session_expired(failure: AgentFailure) -> bool:
    """Bedrock's answer to a sessionId it no longer has (or never issued to these credentials)."""
    return failure.code.lower() == "validationexception" and "session" in failure.detail.lower()


class KnowledgeBaseStream:
    """RetrieveAndGenerateStream events in, agent events out (pure).

    `citation` follows the text it supports, so its sources' numbers go right there as `[n]`;
    a `guardrail` INTERVENED ends the answer as such.
    """

    def __init__(self) -> None:
        self.sources: list[Source] = []
        self.intervened = False
        self._last = ""

    def feed(self, raw: Mapping[str, Any]) -> list[AgentEvent]:
        if "output" in raw:
            text = str(raw["output"].get("text") or "")
            self._last = text[-1:] or self._last
            return [TextDelta(text)] if text else []
        if "citation" in raw:
            return self._cite(raw["citation"])
        if "guardrail" in raw:
            self.intervened = self.intervened or raw["guardrail"].get("action") == "INTERVENED"
        return []

    def _cite(self, event: Mapping[str, Any]) -> list[AgentEvent]:
        references = event.get("retrievedReferences")
        if references is None:  # the deprecated shape nests them one level down
            references = (event.get("citation") or {}).get("retrievedReferences")
        sources = sources_from_attribution({"citations": [{"retrievedReferences": references}]})
        if not sources:
            return []
        self.sources.extend(s for s in sources if s not in self.sources)
        numbers = "".join(f"[{self.sources.index(s) + 1}]" for s in sources)
        marker = numbers if not self._last or self._last.isspace() else f" {numbers}"
        self._last = "]"
        return [TextDelta(marker), Citations(sources)]

    def close(self) -> list[AgentEvent]:
        return (
            [AgentFailure(FailureKind.INVALID_INPUT, "guardrail_intervened")]
            if self.intervened
            else []
        )


class DmRouter:
    """DM turns to the Knowledge Base, every other surface to the agent."""

    def __init__(self, *, agent: AgentBackend, dms: AgentBackend) -> None:
        self._agent = agent
        self._dms = dms

    def pick(self, request: AgentRequest) -> AgentBackend:
        return self._dms if request.surface == "dm" else self._agent

    def stream(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        return self.pick(request).stream(request)

    async def aclose(self) -> None:
        await self._agent.aclose()
        await self._dms.aclose()
