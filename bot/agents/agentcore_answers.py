"""AgentCore Runtime answers: bytes in (server-sent events, one JSON document or plain text),
agent events out; and the failures this API reports, in its errors or inside the answer."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import IncompleteReadError

from bot.agents import shapes
from bot.agents.errors import failure_from_exception, failure_kind
from bot.agents.interrupts import interrupt_request
from bot.agents.streams import HEARTBEAT
from bot.events import (
    AgentEvent,
    AgentFailure,
    Citations,
    FailureKind,
    Source,
    TextDelta,
    Usage,
)

# Codes of this API that bot.agents.errors (shared with Bedrock Agents) does not know.
_LOCAL_KINDS = {"retryableconflictexception": FailureKind.CONFLICT}
_CODE_SHAPE = re.compile(r"[A-Za-z][\w.-]{0,63}")


def failure_from_error(exc: BaseException) -> AgentFailure:
    """`failure_from_exception`, knowing this API's own error codes too."""
    failure = failure_from_exception(exc)
    local = _LOCAL_KINDS.get(failure.code.lower())
    return AgentFailure(local, failure.code, failure.detail) if local else failure


def failure_from_payload(data: Any) -> AgentFailure:
    """An error the agent reported in its answer: `{"error": code|text, "message": …}` or text."""
    # bedrock-agentcore's SDK sends {"error": str(exc), "error_type": "ValueError", "message": …}.
    code = str(_dig(data, "error_type") or _dig(data, "code") or _dig(data, "error") or "")
    code = code if _CODE_SHAPE.fullmatch(code) else "AgentError"
    message = _dig(data, "message") or _dig(data, "error") or data
    kind = _LOCAL_KINDS.get(code.lower()) or failure_kind(code)
    return AgentFailure(kind, code, str(message or "")[:500])


def answer_events(body: Any, content_type: str) -> Iterator[AgentEvent | object]:
    """The answer's events as its bytes arrive.

    `StreamingBody.read(n)` waits for n bytes, so read urllib3's `read1` (what one socket read
    brought); botocore checks Content-Length in `read`, which this bypasses, so check it here.
    """
    raw = body._raw_stream
    parser = AnswerParser(content_type)
    while data := raw.read1(64 * 1024):
        # Bytes without text (a rationale, a tool call) still mean the agent is alive.
        yield from parser.feed(data) or (HEARTBEAT,)
        if parser.done:
            return
    if remaining := raw.length_remaining:
        raise IncompleteReadError(actual_bytes=raw.tell(), expected_bytes=raw.tell() + remaining)
    yield from parser.close()


class AnswerParser:
    """Bytes of an answer in, agent events out; `done` once the agent said it has finished.

    Server-sent events follow the WHATWG rules; `data` is JSON or bare text: a JSON string, an
    object's `text`/`delta`/`content`/`data`/`chunk` (or its `.text`), a Strands
    `{"event": {"contentBlockDelta": …}}`; objects may add `usage` and `citations`
    (`[{"title", "url"}]`). `event: error` or an `error` member fails; `data: [DONE]` ends.
    """

    def __init__(self, content_type: str) -> None:
        media = content_type.split(";", 1)[0].strip().lower()
        self.sse = media == "text/event-stream"  # else one document: JSON or plain text
        self.done = False
        # A multi-byte character may straddle two reads; decode incrementally.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parts: list[str] = []  # the document so far, or an incomplete SSE line
        self._data: list[str] = []
        self._event = ""
        # Strands may send each text twice (raw model delta, `data` event): use the first kind.
        self._source: str | None = None

    def feed(self, data: bytes) -> list[AgentEvent]:
        text = self._decoder.decode(data)
        if self.sse:
            return self._lines(text)
        self._parts.append(text)
        return []

    def close(self) -> list[AgentEvent]:
        tail = self._decoder.decode(b"", final=True)
        if self.sse:  # a clean end without a final blank line still ends the event
            return self._lines(tail + "\n\n")
        return json_events("".join([*self._parts, tail]))

    def _lines(self, text: str) -> list[AgentEvent]:
        text = "".join([*self._parts, text])
        # "\r" may be the first half of "\r\n": keep it until the next byte says.
        hold = "\r" if text.endswith("\r") else ""
        lines = text[: len(text) - len(hold)].replace("\r\n", "\n").replace("\r", "\n")
        *complete, rest = lines.split("\n")
        self._parts = [rest + hold]
        events: list[AgentEvent] = []
        for line in complete:
            field, _, value = line.partition(":")
            if self.done:
                break
            if not line:
                events += self._dispatch()
            elif field == "data":
                self._data.append(value.removeprefix(" "))
            elif field == "event":
                self._event = value.removeprefix(" ")
        return events  # comments (":…"), id and retry change nothing here

    def _dispatch(self) -> list[AgentEvent]:
        data, event, had_data = "\n".join(self._data), self._event, bool(self._data)
        self._data, self._event = [], ""
        if not had_data or data.strip() == "[DONE]":
            self.done = self.done or had_data
            return []
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            value = data  # agents that yield plain strings may send them unquoted
        if event == "error" or _dig(value, "error"):
            self.done = True
            return [failure_from_payload(value)]
        if isinstance(value, Mapping) and (paused := interrupt_request(value)) is not None:
            return [paused]
        if isinstance(value, Mapping):
            found = text_in_event(value)
            return (self._text(*found) if found else []) + extras(value)
        return self._text("string", _bare_text(value, data))

    def _text(self, source: str, text: str) -> list[AgentEvent]:
        if not text or self._source not in (None, source):
            return []
        self._source = source
        return [TextDelta(text)]


def _bare_text(value: Any, data: str) -> str:
    """The text of an SSE `data` that is not an object: a string is text, a list holds text
    blocks, a number is what the agent yielded; null and true/false carry none."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return plain_text(value)
    return "" if value is None or isinstance(value, bool) else data


def json_events(raw: str) -> list[AgentEvent]:
    """A complete non-SSE answer as agent events."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # mislabelled plain text is still the agent's answer
        return [TextDelta(raw)] if raw.strip() else []
    if _dig(document, "error"):
        return [failure_from_payload(document)]
    text = plain_text(document) if isinstance(document, Mapping | list | str) else raw.strip()
    events: list[AgentEvent] = [TextDelta(text)] if text else []
    return events + (extras(document) if isinstance(document, Mapping) else [])


def plain_text(value: Any) -> str:
    """The answer's text in a JSON document: a string, a known key, or Strands content blocks."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(plain_text(item) for item in value)
    keys = ("result", "response", "output", "text", "content", "message")
    texts = (plain_text(value.get(key)) for key in keys) if isinstance(value, Mapping) else ()
    return next((text for text in texts if text), "")


def text_in_event(value: Mapping[str, Any]) -> tuple[str, str] | None:
    """(which kind of event, its text) for one SSE JSON object, or None if it has no text."""
    if isinstance(value.get("event"), Mapping):  # Strands raw model event: only text deltas
        text = _dig(value, "event", "contentBlockDelta", "delta", "text")
        return ("event", text) if isinstance(text, str) else None
    for key in ("text", "delta", "content", "data", "chunk"):
        item = _dig(value, key, "text") if isinstance(value.get(key), Mapping) else value.get(key)
        if isinstance(item, str):
            return key, item
    return None


def extras(value: Mapping[str, Any]) -> list[AgentEvent]:
    """Usage and citations an event or document may carry beside its text."""
    events: list[AgentEvent] = []
    usage = value.get("usage") or _dig(value, "event", "metadata", "usage")
    total = Usage(
        shapes.count(_dig(usage, "inputTokens")), shapes.count(_dig(usage, "outputTokens"))
    )
    if total.total:
        events.append(total)
    sources: list[Source] = []
    citations = value.get("citations")
    for citation in shapes.items(citations):
        url = shapes.text(_dig(citation, "url"))
        title = shapes.text(_dig(citation, "title")) or url
        source = Source(title, url or None)
        if title and source not in sources:
            sources.append(source)
    if sources:
        events.append(Citations(tuple(sources)))
    return events


def _dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]…`, or None where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value
