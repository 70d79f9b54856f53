"""Pure history shaping: what Bedrock's conversationHistory accepts, and late-join transcripts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.history import StoredTurn, replay_messages, thread_transcript


def test_turns_become_alternating_user_and_assistant_messages() -> None:
    messages = replay_messages([StoredTurn("q1", "a1"), StoredTurn("q2", "a2")])
    assert [(m.role, m.text) for m in messages] == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
    ]


def test_blank_answers_merge_questions_and_a_trailing_question_is_dropped() -> None:
    messages = replay_messages(
        [StoredTurn("context", ""), StoredTurn("q1", "a1"), StoredTurn("q2", " ")]
    )
    assert [(m.role, m.text) for m in messages] == [("user", "context\n\nq1"), ("assistant", "a1")]


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=8))
def test_replayed_history_always_starts_with_user_and_alternates(
    pairs: list[tuple[str, str]],
) -> None:
    messages = replay_messages([StoredTurn(q, a) for q, a in pairs])
    assert all(m.text.strip() for m in messages)
    assert [m.role for m in messages] == ["user", "assistant"] * (len(messages) // 2)


def test_a_late_join_transcript_names_speakers_and_stops_before_the_question() -> None:
    messages = [
        {"user": "U1", "text": "Deploy failed", "ts": "1.0"},
        {"user": "UBOT", "text": "earlier bot words", "ts": "2.0", "bot_id": "B1"},
        {"user": "U2", "text": "", "ts": "3.0"},
        {"user": "U3", "text": "<@UBOT> why?", "ts": "4.0"},
    ]
    transcript = thread_transcript(messages, bot_user_id="UBOT", before_ts="4.0")
    assert transcript.splitlines()[1:] == [
        "<@U1>: Deploy failed",
        "assistant (me): earlier bot words",
    ]
