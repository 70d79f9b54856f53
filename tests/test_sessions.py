"""Which agent session a turn runs in (bot/memory/sessions.py), from the session hash alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.memory.sessions import next_session

IDLE = 900.0


def state(generation: int, last_active: float) -> dict[bytes, bytes]:
    return {b"generation": str(generation).encode(), b"last_active": str(last_active).encode()}


def test_a_new_conversation_starts_at_generation_one_not_known() -> None:
    for nothing in (None, {}):
        session = next_session("T:C:1", nothing, now=1000.0, idle_seconds=IDLE)
        assert (session.generation, session.fresh, session.known) == (1, True, False)
        assert session.session_id.endswith(":g1")


def test_an_alive_session_keeps_its_generation() -> None:
    session = next_session("T:C:1", state(4, 1000.0), now=1000.0 + IDLE, idle_seconds=IDLE)
    assert (session.generation, session.fresh, session.known) == (4, False, True)


def test_after_idle_or_when_asked_the_next_generation_starts_fresh() -> None:
    idle = next_session("T:C:1", state(4, 1000.0), now=1001.0 + IDLE, idle_seconds=IDLE)
    asked = next_session("T:C:1", state(4, 1000.0), now=1000.0, idle_seconds=IDLE, fresh=True)
    for session in (idle, asked):
        assert (session.generation, session.fresh, session.known) == (5, True, True)
        assert session.session_id.endswith(":g5")
        assert session.history == ()  # the store adds it


@given(
    generation=st.integers(min_value=1, max_value=10**6),
    since=st.floats(min_value=0, max_value=10 * IDLE),
    fresh=st.booleans(),
)
def test_the_generation_never_goes_down_and_moves_by_at_most_one(
    generation: int, since: float, fresh: bool
) -> None:
    session = next_session(
        "T:C:1", state(generation, 0.0), now=since, idle_seconds=IDLE, fresh=fresh
    )
    assert session.generation - generation in (0, 1)
    assert session.fresh == (session.generation > generation)
    assert session.known
