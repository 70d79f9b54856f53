"""Properties of how a growing answer is laid out over Slack messages (no I/O)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack_targets import SMALLEST_MESSAGE, Kind, MessageState, Recovery, fit, recovery

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
    st.sampled_from([Kind.STREAM, Kind.UPDATE]),
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
        # Every kind sends the Markdown as it is (markdown_text or markdown blocks).
        assert len(part) <= max_chars or len(part) <= 1


_ERRORS = st.sampled_from(
    [
        "message_not_found",
        "cant_update_message",
        "msg_too_long",
        "message_not_in_streaming_state",
        "streaming_error",
        "unknown_method",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "invalid_blocks",
        "no_text",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ERRORS, min_size=1, max_size=60), st.sampled_from(list(Kind)))
def test_every_refusal_has_a_next_step_and_refusals_cannot_loop_forever(
    errors: list[str], kind: Kind
) -> None:
    """Applied the way the writer applies them, recoveries end in success or a visible
    give-up within a bounded number of steps, whatever Slack keeps answering."""
    message = MessageState(start=0, shown=0, kind=kind, ts="1.1")
    recoveries = 0
    for steps, error in enumerate(errors):
        step = recovery(message, error, recoveries=recoveries)
        assert isinstance(step, Recovery)
        if step is Recovery.GIVE_UP:
            return
        assert steps < 30, "recoveries are bounded"
        if step is Recovery.NEW_MESSAGE:
            recoveries += 1
            message.ts, message.kind = None, Kind.UPDATE
        elif step is Recovery.SPLIT_SOONER:
            message.max_chars = max(SMALLEST_MESSAGE, message.limit * 3 // 4)
        else:
            message.kind = Kind.MARKDOWN if message.ts else Kind.UPDATE
