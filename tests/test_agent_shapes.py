"""Agent event translation is total: arbitrary JSON in every field the translators read, for both
backends, never raises, and the text beside it always comes through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.agents import shapes
from bot.agents.agentcore import AnswerParser, json_events
from bot.agents.bedrock_agents import StreamState, translate_event
from bot.events import Citations, TextDelta, Usage

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# JSON that survives a round trip through json.dumps/loads (what an SSE line can carry).
wire_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

_JUNK = object()  # where the arbitrary value goes in a template


def fill(template: Any, junk: Any) -> Any:
    if template is _JUNK:
        return junk
    if isinstance(template, dict):
        return {key: fill(value, junk) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, junk) for value in template]
    return template


REFERENCE = {"location": {"webLocation": {"url": "https://kb/doc"}}, "metadata": {"title": "Doc"}}
# Every field translate_event reads, one template each, always beside the text "hello".
BEDROCK_CHUNKS = [
    {"attribution": _JUNK},
    {"attribution": {"citations": _JUNK}},
    {"attribution": {"citations": [_JUNK, {"retrievedReferences": [REFERENCE]}]}},
    {"attribution": {"citations": [{"retrievedReferences": _JUNK}]}},
    {"attribution": {"citations": [{"retrievedReferences": [_JUNK, REFERENCE]}]}},
    {"attribution": {"citations": [{"retrievedReferences": [{"location": _JUNK}]}]}},
    {
        "attribution": {
            "citations": [{"retrievedReferences": [{"location": {"webLocation": _JUNK}}]}]
        }
    },
    {"attribution": {"citations": [{"retrievedReferences": [{"metadata": _JUNK}]}]}},
    {"attribution": {"citations": [{"retrievedReferences": [{"metadata": {"title": _JUNK}}]}]}},
    {
        "attribution": {
            "citations": [{"retrievedReferences": [{"location": {"s3Location": {"uri": _JUNK}}}]}]
        }
    },
]
BEDROCK_TRACES = [
    _JUNK,
    {"orchestrationTrace": _JUNK},
    {"orchestrationTrace": {"modelInvocationOutput": {"metadata": {"usage": _JUNK}}}},
    {
        "orchestrationTrace": {
            "modelInvocationOutput": {
                "metadata": {"usage": {"inputTokens": _JUNK, "outputTokens": 5}}
            }
        }
    },
    {"orchestrationTrace": {"modelInvocationInput": {"foundationModel": _JUNK}}},
    [_JUNK, {"usage": {"inputTokens": _JUNK}}],
]


@pytest.mark.parametrize("template", BEDROCK_CHUNKS, ids=range(len(BEDROCK_CHUNKS)))
@settings(max_examples=60)
@given(junk=json_values)
def test_bedrock_chunks_keep_their_text_whatever_their_attribution(
    template: Any, junk: Any
) -> None:
    raw = {"chunk": {"bytes": b"hello", **fill(template, junk)}}

    events = list(translate_event(raw, StreamState()))

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hello"]
    for event in events:
        if isinstance(event, Citations):
            assert all(isinstance(s.title, str) and s.title for s in event.sources)


@pytest.mark.parametrize("template", BEDROCK_TRACES, ids=range(len(BEDROCK_TRACES)))
@settings(max_examples=60)
@given(junk=json_values)
def test_bedrock_traces_of_any_shape_yield_only_sane_usage(template: Any, junk: Any) -> None:
    state = StreamState()

    events = list(translate_event({"trace": fill(template, junk)}, state))

    assert all(isinstance(e, Usage) for e in events)
    assert all(e.input_tokens >= 0 and e.output_tokens >= 0 for e in events if isinstance(e, Usage))
    assert isinstance(state.model, str)


@settings(max_examples=200)
@given(raw=json_values, chunk=json_values)
def test_bedrock_events_of_any_shape_never_raise(raw: Any, chunk: Any) -> None:
    list(translate_event(raw, StreamState()))
    list(translate_event({"chunk": chunk}, StreamState()))
    list(translate_event({"chunk": {"bytes": chunk}}, StreamState()))


AGENTCORE_FIELDS = ["usage", "citations", "trace", "metadata", "id", "role", "stop"]


@pytest.mark.parametrize("field", AGENTCORE_FIELDS)
@settings(max_examples=60)
@given(junk=wire_values)
def test_agentcore_events_keep_their_text_whatever_rides_along(field: str, junk: Any) -> None:
    parser = AnswerParser("text/event-stream")
    line = json.dumps({"text": "hello", field: junk})

    events = parser.feed(f"data: {line}\n\n".encode()) + parser.close()

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hello"]
    assert all(e.input_tokens >= 0 and e.output_tokens >= 0 for e in events if isinstance(e, Usage))


@pytest.mark.parametrize("field", AGENTCORE_FIELDS)
@settings(max_examples=60)
@given(junk=wire_values)
def test_agentcore_documents_keep_their_result_whatever_rides_along(field: str, junk: Any) -> None:
    events = json_events(json.dumps({"result": "hello", field: junk}))

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hello"]


@settings(max_examples=200)
@given(data=wire_values, raw=st.binary(max_size=60))
def test_agentcore_frames_of_any_shape_never_raise(data: Any, raw: bytes) -> None:
    parser = AnswerParser("text/event-stream")
    parser.feed(f"data: {json.dumps(data)}\n\n".encode())
    parser.feed(raw)
    parser.close()
    json_events(json.dumps(data))
    json_events(raw.decode(errors="replace"))


@given(value=json_values)
def test_token_counts_are_never_negative_or_fractional(value: Any) -> None:
    n = shapes.count(value)
    assert isinstance(n, int) and n >= 0


def test_deeply_nested_traces_are_walked_without_hitting_the_recursion_limit() -> None:
    node: Any = {"usage": {"inputTokens": 1}}
    for _ in range(5_000):
        node = [node]
    assert list(translate_event({"trace": node}, StreamState())) == []  # too deep: skipped
