"""Amazon Bedrock Agents (InvokeAgent) backend: streamed final response, traces, citations."""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping
from typing import Any, Unpack
from urllib.parse import unquote, urlparse

from botocore.exceptions import ClientError

from bot.agents import shapes
from bot.agents.base import Api, Plumbing, ThreadedBackend
from bot.agents.errors import failure_from_exception
from bot.agents.hints import OperatorHints
from bot.agents.progress import ProgressTracker
from bot.agents.return_control import action_request, invocation_results
from bot.agents.shapes import Skips, readable_frames
from bot.agents.streams import HEARTBEAT, Emit, StreamHandle, emit_broken
from bot.events import (
    AgentEvent,
    AgentRequest,
    Citations,
    Source,
    TextDelta,
    Usage,
)


class BedrockAgentsBackend(ThreadedBackend):
    """Calls `bedrock-agent-runtime` InvokeAgent for one agent alias."""

    api = Api("invoke_agent", stream="completion", classify=failure_from_exception)
    operator_hints = OperatorHints(
        settings="BEDROCK_AGENT_ID, BEDROCK_AGENT_ALIAS_ID",
        permissions="bedrock:InvokeAgent on the agent alias",
    )

    def __init__(self, *, agent_id: str, alias_id: str, **plumbing: Unpack[Plumbing]) -> None:
        super().__init__(**plumbing)
        self._agent_id = agent_id
        self._alias_id = alias_id

    def _read(self, stream: Any, response: Any, emit: Emit, handle: StreamHandle) -> None:
        # A multi-byte character may straddle two chunks; decode incrementally.
        state = StreamState()
        try:
            for raw in readable_frames(stream, state.skips):
                if handle.cancelled.is_set():
                    return
                events = list(translate_event(raw, state))
                for event in events or (HEARTBEAT,):
                    emit(event)
            tail = state.decoder.decode(b"", final=True)
            if tail:
                emit(TextDelta(tail))
        except ClientError as exc:  # EventStreamError: an exception event after HTTP 200
            emit(failure_from_exception(exc))
        except Exception as exc:
            emit_broken(exc, emit, handle)

    def build_params(self, request: AgentRequest) -> dict[str, Any]:
        """The InvokeAgent parameters for one request (pure; unit-tested)."""
        session_state: dict[str, Any] = {"sessionAttributes": dict(request.session_attributes)}
        if request.resume:
            # Results of a return of control: Bedrock ignores inputText then, so none is sent.
            session_state.update(invocation_results(request.resume))
            return {
                "agentId": self._agent_id,
                "agentAliasId": self._alias_id,
                "sessionId": request.session_id,
                "enableTrace": True,
                "streamingConfigurations": {"streamFinalResponse": True},
                "sessionState": session_state,
            }
        text = request.text
        if request.history and self._replay_as_preamble:
            text = history_preamble(request) + text
        elif request.history:
            session_state["conversationHistory"] = {
                "messages": [
                    {"role": message.role, "content": [{"text": message.text}]}
                    for message in request.history
                ]
            }
        return {
            "agentId": self._agent_id,
            "agentAliasId": self._alias_id,
            "sessionId": request.session_id,
            "inputText": text,
            "enableTrace": True,
            "streamingConfigurations": {"streamFinalResponse": True},
            "sessionState": session_state,
        }


def history_preamble(request: AgentRequest) -> str:
    lines = ["Earlier in this conversation:"]
    for message in request.history:
        speaker = "User" if message.role == "user" else "Assistant"
        lines.append(f"{speaker}: {message.text}")
    lines.append("")
    lines.append("Now the user asks:")
    return "\n".join(lines) + "\n"


class StreamState:
    """What one answer's stream remembers between events: its text decoder and the model the
    latest model call named (its input trace comes before the output trace with the usage)."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.model = ""
        self.progress = ProgressTracker(source_of=source_from_reference)
        self.skips = Skips()


def translate_event(raw: Mapping[str, Any], state: StreamState) -> Iterator[AgentEvent]:
    """Turn one parsed InvokeAgent stream event into typed agent events; total: whatever shape
    a field has, the text it carries comes through and the rest is skipped (bot.agents.shapes)."""
    raw = shapes.obj(raw)
    if "chunk" in raw:
        chunk = shapes.obj(raw["chunk"])
        data = chunk.get("bytes")
        if isinstance(data, bytes | bytearray):
            text = state.decoder.decode(bytes(data))
        else:
            text = shapes.text(data)  # a str where a blob belongs: still the agent's words
            if data is not None and not text:
                state.skips.note("chunk bytes")
        if text:
            yield TextDelta(text)
        sources = sources_from_attribution(chunk.get("attribution"))
        if sources:
            yield Citations(sources)
    elif "trace" in raw:
        state.model = model_of_trace(raw["trace"]) or state.model
        usage = usage_from_trace(raw["trace"])
        if usage.total:
            yield Usage(usage.input_tokens, usage.output_tokens, state.model)
        yield from state.progress.translate(raw["trace"])
    elif "returnControl" in raw:
        paused = action_request(raw["returnControl"])
        if paused is not None:
            yield paused


def model_of_trace(node: Any) -> str:
    """The `foundationModel` a trace names (a model invocation's input), if any."""
    return next(
        (m for o in shapes.objects(node) if (m := shapes.text(o.get("foundationModel")))), ""
    )


# Trace parts whose `usage` is not a model call of their own: observations restate calls
# already reported (a collaborator's output sums the collaborator's own model calls, which
# arrive as its own traces), a guardrail counts text units, a failure nothing new. A model
# call's own output holds no further calls.
_NOT_MODEL_CALLS = frozenset(
    {"observation", "guardrailTrace", "failureTrace", "modelInvocationOutput"}
)


def usage_from_trace(node: Any) -> Usage:
    """Tokens of the model calls a trace reports, each once: every
    `modelInvocationOutput.metadata.usage` (orchestration, pre/post-processing, routing,
    memory summarisation; supervisor and collaborators alike)."""
    total = Usage()
    for part in shapes.objects(node, prune=_NOT_MODEL_CALLS):
        usage = shapes.dig(part, "modelInvocationOutput", "metadata", "usage")
        if isinstance(usage, Mapping):
            counts = (
                shapes.count(usage.get("inputTokens")),
                shapes.count(usage.get("outputTokens")),
            )
            total += Usage(*counts)
    return total


_LOCATION_KEYS = (
    ("webLocation", "url"),
    ("confluenceLocation", "url"),
    ("sharePointLocation", "url"),
    ("salesforceLocation", "url"),
    ("googleDriveLocation", "url"),
    ("oneDriveLocation", "url"),
    ("s3Location", "uri"),
    ("kendraDocumentLocation", "uri"),
    ("customDocumentLocation", "id"),
)


def sources_from_attribution(attribution: Any) -> tuple[Source, ...]:
    sources: list[Source] = []
    for citation in shapes.items(shapes.obj(attribution).get("citations")):
        for reference in shapes.items(shapes.obj(citation).get("retrievedReferences")):
            source = source_from_reference(reference)
            if source is not None and source not in sources:
                sources.append(source)
    return tuple(sources)


def source_from_reference(reference: Any) -> Source | None:
    location = shapes.obj(shapes.obj(reference).get("location"))
    address = ""
    for location_key, field in _LOCATION_KEYS:
        address = shapes.text(shapes.dig(location, location_key, field))
        if address:
            break
    metadata = shapes.obj(shapes.obj(reference).get("metadata"))
    title = shapes.text(metadata.get("title")) or shapes.text(
        metadata.get("x-amz-bedrock-kb-title")
    )
    if not title and address:
        title = _title_from_address(address)
    if not title:
        return None
    url = address if address.startswith(("http://", "https://", "s3://")) else None
    return Source(title=title, url=url)


def _title_from_address(address: str) -> str:
    parsed = urlparse(address)
    name = unquote(parsed.path.rstrip("/").rsplit("/", 1)[-1])
    return name or parsed.netloc or address
