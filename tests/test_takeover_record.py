"""The in-flight record: everything another replica needs to answer the turn again."""

from __future__ import annotations

from bot.slack_targets import SignOfLife, ThreadTarget
from bot.takeover import decode, encode
from tests.harness import question_turn


def test_a_recorded_turn_comes_back_as_a_retake_in_a_fresh_session() -> None:
    turn = question_turn(
        "how many vacation days?",
        thread_ts="171.1",
        event_id="Ev1",
        attributes={"slackEnterpriseId": "E1"},
    )
    target = ThreadTarget("T0001", "D0DM", "171.1", "U0USER", "171.1", SignOfLife.STATUS)

    again, where = decode(encode(turn, target))

    assert where == target
    assert again.text == turn.text and again.turn_id == turn.turn_id
    assert dict(again.attributes) == {"slackEnterpriseId": "E1"}
    assert again.event_id is None  # the event is claimed already; a retake is not a duplicate
    assert again.fresh_session  # the dead invocation may still hold the old session
