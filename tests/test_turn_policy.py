"""The turn policy (bot/turn.py) is pure: what a turn asks, shows at its end and remembers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot import formatting
from bot.events import AgentFailure, Answer, FailureKind, Source, Usage
from bot.history import StoredTurn, replay_messages
from bot.memory import Session
from bot.turn import (
    Turn,
    closing,
    feedback_reference,
    joined,
    late_join_text,
    read_feedback_reference,
    request_for,
    stored_turn,
)

TURN = Turn("mention", "T1", "C1", "U1", "what is new?", "T1:C1:171.1")
ids = st.text(min_size=1, max_size=40)


@given(conversation=ids, turn_id=ids)
def test_a_feedback_reference_reads_back_as_the_turn_it_names(conversation: str, turn_id: str):
    value = feedback_reference(conversation, turn_id)
    assert read_feedback_reference(value) == (conversation, turn_id)


def test_a_feedback_value_that_is_not_ours_reads_as_none():
    for junk in ("", "nope", "[1, 2]", '"text"', '{"c": "x"}', "7"):
        assert read_feedback_reference(junk) is None


def test_a_complete_answer_closes_with_its_sources_and_no_reference():
    answer = Answer("Paris.", (Source("Atlas", "https://a.example"),))
    shown = closing(answer)
    assert shown.reference is None and shown.alert is None and shown.note is None
    assert shown.suffix == "\n\n" + formatting.sources_markdown(answer.sources)


def test_a_partial_answer_keeps_its_failure_note_apart_with_a_reference():
    failure = AgentFailure(FailureKind.THROTTLED, "ThrottlingException")
    shown = closing(Answer("Half an ans", failure=failure), reference="ref123")
    assert shown.reference == "ref123"
    assert shown.alert is not None and "ref123" in shown.alert
    assert "ref123" not in shown.suffix  # shown as an alert block under the text, not in it


def test_an_answer_that_failed_before_any_text_is_its_failure_note():
    failure = AgentFailure(FailureKind.MISCONFIGURED, "AccessDeniedException")
    shown = closing(Answer("", failure=failure))
    assert shown.reference and shown.alert is None
    assert shown.suffix == shown.note
    assert shown.reference in shown.suffix


def test_an_empty_answer_says_so():
    assert closing(Answer("  ")).suffix == formatting.EMPTY_ANSWER_TEXT


def test_a_bot_that_joined_late_asks_with_the_thread_so_far_before_the_question():
    assert late_join_text("", "why?") == "why?"
    text = late_join_text("Ann: the build broke", "why?")
    assert text.startswith("Ann: the build broke") and text.endswith("why?")


@given(prior=st.text(max_size=30), text=st.text(max_size=30))
def test_a_resumed_answer_is_what_was_shown_before_the_pause_then_what_came_after(
    prior: str, text: str
):
    whole = joined(prior, text)
    assert whole.startswith(prior) and whole.endswith(text)
    assert len(whole) <= len(prior) + len(text) + 2


def test_only_a_fresh_session_gets_the_remembered_history_replayed():
    history = (StoredTurn("q1", "a1"), StoredTurn("q2", "a2"))
    fresh = request_for(TURN, Session("s1", 1, fresh=True, known=True, history=history), "q")
    kept = request_for(TURN, Session("s1", 1, fresh=False, known=True, history=history), "q")
    assert list(fresh.history) == replay_messages(history) != []
    assert not kept.history
    assert fresh.session_attributes["slackTeamId"] == "T1"
    assert fresh.conversation == TURN.conversation and fresh.surface == "mention"


def test_the_stored_turn_keeps_question_answer_tokens_and_who_asked():
    answer = Answer("A.", usage=Usage(input_tokens=3, output_tokens=5))
    stored = stored_turn(TURN, answer, cost=0.1234567, asked_at=10.0, answered_at=12.0)
    assert (stored.question, stored.answer, stored.user_id) == ("what is new?", "A.", "U1")
    assert (stored.input_tokens, stored.output_tokens, stored.cost_usd) == (3, 5, 0.123457)
    assert (stored.asked_at, stored.answered_at, stored.turn_id) == (10.0, 12.0, TURN.turn_id)
    assert not stored.interrupted
