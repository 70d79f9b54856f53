"""Properties of how a growing answer is laid out over Slack messages (no I/O)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import formatting
from bot.slack_targets import Kind, MessageState, fit

_WORDS = st.sampled_from(
    ["word ", "**bold** ", "[a](https://e.com) ", "\n\n", "\n", "é👍 ", "x" * 30]
)


def lay_out(chunks: list[str], kind: Kind, max_chars: int) -> tuple[str, list[MessageState]]:
    """What the writer's flush loop does with each new piece of text, without Slack."""
    messages = [MessageState(start=0, shown=0, kind=kind, max_chars=max_chars)]
    text = ""
    for chunk in chunks:
        text += chunk
        while True:
            message = messages[-1]
            cut = fit(message, text)
            assert cut >= message.shown, "a cut never hides text already shown"
            message.shown = cut
            if cut == len(text):
                break
            messages.append(MessageState(start=cut, shown=cut, kind=kind, max_chars=max_chars))
    return text, messages


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(_WORDS, min_size=1, max_size=12).map("".join), max_size=25),
    st.sampled_from([Kind.STREAM, Kind.MRKDWN]),
    st.integers(min_value=60, max_value=400),
)
def test_parts_join_to_the_answer_and_each_fits_its_message(
    chunks: list[str], kind: Kind, max_chars: int
) -> None:
    text, messages = lay_out(chunks, kind, max_chars)
    ends = [m.start for m in messages[1:]] + [len(text)]
    parts = [text[m.start : end] for m, end in zip(messages, ends, strict=True)]
    assert "".join(parts) == text
    for part in parts:
        shown = formatting.to_mrkdwn(part) if kind is Kind.MRKDWN else part
        assert len(shown) <= max_chars or len(part) <= 1
