"""Pacing decisions of the write budget, with the clock stepped by hand."""

from __future__ import annotations

import pytest

from bot import slack_budget
from bot.slack_budget import WriteBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(slack_budget.time, "monotonic", clock)
    return clock


def test_one_answer_refused_again_and_again_keeps_the_normal_pace(clock: Clock) -> None:
    budget = WriteBudget(base_interval=0.8)
    for _ in range(3):  # a 3 s window of 429s on one answer is transient, not pressure
        budget.rate_limited_by_slack("T1", "chat.startStream", 1.0, answer="a")
        clock.now += 1.0
    assert budget.interval("T1") == 0.8
    assert budget.blocked_for("T1", "chat.startStream") == 0.0


def test_retry_after_blocks_exactly_that_workspace_and_method(clock: Clock) -> None:
    budget = WriteBudget(base_interval=0.8)
    budget.rate_limited_by_slack("T1", "chat.update", 2.0, answer="a")
    clock.now += 1.5
    assert budget.blocked_for("T1", "chat.update") == pytest.approx(0.5)
    assert budget.blocked_for("T1", "chat.appendStream") == 0.0
    assert budget.blocked_for("T2", "chat.update") == 0.0
    assert 0.5 < budget.release_delay("T1", "chat.update") <= 0.75


def test_several_answers_refused_slow_the_pace_and_it_recovers_with_time(clock: Clock) -> None:
    budget = WriteBudget(base_interval=0.8)
    for answer in range(5):
        budget.rate_limited_by_slack("T1", "chat.update", 1.0, answer=answer)
    assert budget.interval("T1") == pytest.approx(0.8 * 8)  # sustained: fewer, larger updates
    assert budget.interval("T2") == 0.8, "other workspaces keep their pace"
    clock.now += 11  # the refusals age out of the pressure window
    assert budget.interval("T1") == 0.8


def test_accepted_writes_bring_the_pace_back_before_refusals_age_out(clock: Clock) -> None:
    budget = WriteBudget(base_interval=0.8)
    for answer in range(5):
        budget.rate_limited_by_slack("T1", "chat.update", 1.0, answer=answer)
    for _ in range(3):
        budget.accepted("T1")
    assert budget.interval("T1") == 0.8


def test_a_refused_stream_is_remembered_per_channel_and_tried_again_later(clock: Clock) -> None:
    budget = WriteBudget(base_interval=0.8)
    budget.refuse_native("T1:C1")
    assert budget.native_refused("T1:C1")
    assert not budget.native_refused("T1:C2")
    clock.now += 301
    assert not budget.native_refused("T1:C1")


def test_after_retry_after_one_write_probes_before_the_others_follow(clock: Clock) -> None:
    budget = WriteBudget(base_interval=0.8)
    budget.rate_limited_by_slack("T1", "chat.appendStream", 1.0, answer="a")
    assert not budget.may_send("T1", "chat.appendStream"), "inside Retry-After"
    clock.now += 1.0
    assert budget.may_send("T1", "chat.appendStream"), "the probe"
    assert not budget.may_send("T1", "chat.appendStream"), "the others wait for its answer"
    assert budget.release_delay("T1", "chat.appendStream") > 0
    budget.accepted("T1", "chat.appendStream")
    assert budget.may_send("T1", "chat.appendStream")
    assert budget.may_send("T1", "chat.appendStream")
