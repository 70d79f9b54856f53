"""Which agent session a turn runs in, decided from the conversation's session hash. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.history import StoredTurn
from bot.keys import session_id


@dataclass(frozen=True, slots=True)
class Session:
    """The agent session a turn runs in; `fresh` means the agent has forgotten the past."""

    session_id: str
    generation: int
    fresh: bool
    known: bool  # the bot has answered in this conversation before
    history: tuple[StoredTurn, ...] = field(default=())


def next_session(
    conversation: str,
    state: dict[bytes, bytes] | None,
    *,
    now: float,
    idle_seconds: float,
    fresh: bool = False,
) -> Session:
    """The same generation while the session is alive; the next one after `idle_seconds`
    without a turn, or when `fresh` is asked (its history is then the caller's to add). No
    state (a new conversation, or Redis unavailable): generation 1, not known."""
    if not state:
        return Session(session_id(conversation, 1), 1, fresh=True, known=False)
    generation = int(state.get(b"generation", 1))
    if not fresh and now - float(state.get(b"last_active", 0)) <= idle_seconds:
        return Session(session_id(conversation, generation), generation, fresh=False, known=True)
    return Session(session_id(conversation, generation + 1), generation + 1, True, True)
