"""Reading agent events whatever their JSON shape: take what is there, skip what is not.

An agent (our own AgentCore container, a Bedrock agent with odd action groups, a proxy) may send
any JSON value where a field should be: a citation that is null or a string, `usage` that is
"many" or negative, a trace that is a list. The answer's text must survive all of it, so the
translators read fields only through these helpers, which never raise, and note each kind of
thing they skipped once per answer at DEBUG (`Skips`).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

log = logging.getLogger(__name__)

_MAX_DEPTH = 24  # traces nest a few levels; anything deeper is not worth walking
_EMPTY: Mapping[str, Any] = {}


def obj(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else _EMPTY


def items(value: Any) -> tuple[Any, ...]:
    """`value`'s elements if it is a JSON array, else none."""
    return tuple(value) if isinstance(value, list | tuple) else ()


def text(value: Any) -> str:
    """`value` if it is a string, else ""."""
    return value if isinstance(value, str) else ""


def count(value: Any) -> int:
    """A token count: a non-negative whole number (7 or 7.0), else 0 ("many", -3, null, true)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float) and value.is_integer() and 0 <= value < 2**53:
        return int(value)
    return 0


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]…`, or None where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def objects(node: Any, *, prune: frozenset[str] = frozenset()) -> Iterator[Mapping[str, Any]]:
    """Every JSON object in `node`, itself included, depth first (bounded depth, no recursion
    limit to hit on a hostile document); what objects hold under a key in `prune` is not
    walked into."""
    stack: list[tuple[Any, int]] = [(node, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(value, Mapping):
            yield value
            children: Iterable[Any] = [v for k, v in value.items() if k not in prune]
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        stack.extend((child, depth + 1) for child in reversed(list(children)))


class Skips:
    """What one answer's translator could not read, each kind logged once at DEBUG."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def note(self, what: str) -> None:
        if what not in self._seen:
            self._seen.add(what)
            log.debug("agent event part skipped", extra={"skipped": what})


def readable_frames(stream: Any, skips: Skips) -> Iterator[Any]:
    """A botocore EventStream's events, skipping a frame botocore cannot parse.

    botocore parses each frame against the service model and raises (AttributeError, TypeError)
    when a structure arrives as a string or a list as a number — which would end the whole
    stream. Reading frame by frame lets one odd frame go while the text around it arrives.
    Exception frames still raise (EventStreamError), as they should.
    """
    messages = getattr(stream, "_event_generator", None)
    parse: Callable[[Any], Any] | None = getattr(stream, "_parse_event", None)
    if messages is None or parse is None:  # another botocore: its own iteration, unguarded
        yield from stream
        return
    for message in messages:
        try:
            event = parse(message)
        except Exception as exc:
            headers = obj(getattr(message, "headers", None))
            if headers.get(":message-type") != "event":
                raise
            kind = str(headers.get(":event-type"))
            skips.note(f"{kind} frame botocore cannot parse ({type(exc).__name__})")
            event = unmodelled_event(kind, getattr(message, "payload", b""))
        if event:
            yield event


def unmodelled_event(kind: str, payload: Any) -> dict[str, Any] | None:
    """A frame's JSON read without the service model, so the translator can still take the
    text out of it: `{kind: payload}`, a chunk's base64 `bytes` decoded as botocore would."""
    try:
        document = json.loads(payload)
    except (TypeError, ValueError, RecursionError):
        return None
    data = dig(document, "bytes")
    if kind == "chunk" and isinstance(data, str):
        try:
            document = {**document, "bytes": base64.b64decode(data, validate=True)}
        except ValueError:
            document = {**document, "bytes": None}
    return {kind: document}
