"""Properties that must hold for any input: no text lost, reordered or cut mid-character."""

from __future__ import annotations

import base64
import json
import re

from botocore.eventstream import EventStreamBuffer
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot import formatting
from bot.agents.bedrock_agents import StreamState, translate_event
from bot.events import TextDelta
from tests.fakes.eventstream import encode_event

WORDS = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8)
MARKUP = st.sampled_from(
    ["**", "_", "`", "~~", "# ", "- ", "1. ", "> ", "\n", "\n\n", " ", ", ", "."]
)
MARKDOWNISH = st.lists(st.one_of(WORDS, MARKUP), max_size=60).map("".join)


def letters(text: str) -> str:
    """The text's letters and digits, in order: what markup must never lose or move."""
    return "".join(re.findall(r"[^\W_]+", text))


@settings(max_examples=300)
@given(MARKDOWNISH)
def test_markdown_to_slack_keeps_every_letter_in_order(markdown: str) -> None:
    # A code fence's info string (```python) names the language; Slack has no use for it.
    assume(not re.search(r"(^|\n)[ \t>*+\-\d.#]*(`{3,}|~{3,})", markdown))
    converted = formatting.to_mrkdwn(markdown)
    unescaped = converted.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    assert letters(unescaped) == letters(markdown)


@given(st.text(min_size=1, max_size=2000), st.integers(min_value=2, max_value=700), st.data())
def test_a_split_never_moves_text_already_shown(text: str, limit: int, data: st.DataObject) -> None:
    floor = data.draw(st.integers(min_value=0, max_value=min(limit, len(text))))
    cut = formatting.split_point(text, limit, floor=floor)
    assert cut >= max(floor, 1)
    assert cut <= max(limit, floor) or cut == len(text) <= limit


def frames_for(text: str, pieces: int) -> bytes:
    """An answer as Bedrock sends it: chunk events whose bytes may split a character."""
    data = text.encode()
    step = max(1, len(data) // max(1, pieces))
    out = b""
    for start in range(0, len(data), step):
        payload = {"bytes": base64.b64encode(data[start : start + step]).decode()}
        out += encode_event("chunk", payload)
    return out


@settings(max_examples=150)
@given(
    st.text(min_size=1, max_size=300),
    st.integers(min_value=1, max_value=40),
    st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=40),
)
def test_any_chunking_of_the_event_stream_gives_the_same_text(
    text: str, pieces: int, read_sizes: list[int]
) -> None:
    wire = frames_for(text, pieces)
    buffer = EventStreamBuffer()
    state = StreamState()
    got: list[str] = []
    position, sizes = 0, iter(read_sizes * (len(wire) // len(read_sizes) + 1))
    while position < len(wire):
        size = next(sizes)
        buffer.add_data(wire[position : position + size])
        position += size
        for message in buffer:
            body = json.loads(message.payload)
            raw = {"chunk": {"bytes": base64.b64decode(body["bytes"])}}
            got.extend(e.text for e in translate_event(raw, state) if isinstance(e, TextDelta))
    assert "".join(got) == text
