"""Turns answered while Redis was down, kept in memory until it is back (bounded).

An answer given during an outage must still be remembered, or the next question in that
conversation replays a history with a hole. The buffer is bounded: when it is full the oldest
turn is dropped, and that loss is logged (with its conversation, never its text).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from bot.history import KeyedTurn

log = logging.getLogger(__name__)

OUTBOX_MAX_TURNS = 1000


@dataclass(frozen=True, slots=True)
class PendingTurn(KeyedTurn):
    """A turn answered during the outage, with what its session write needs."""

    generation: int
    session_used: bool
    answered_at: float


class Outbox:
    def __init__(self, *, capacity: int = OUTBOX_MAX_TURNS) -> None:
        self._pending: deque[PendingTurn] = deque()
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._pending)

    def keep(self, pending: PendingTurn) -> None:
        if len(self._pending) >= self._capacity:
            lost = self._pending.popleft()
            log.error(
                "a turn answered during the Redis outage is lost (outage buffer full)",
                extra={"conversation": lost.conversation, "turn": lost.turn.turn_id},
            )
        self._pending.append(pending)

    def peek(self) -> PendingTurn | None:
        return self._pending[0] if self._pending else None

    def written(self, pending: PendingTurn) -> None:
        """`pending` (the oldest) is in Redis now."""
        if self._pending and self._pending[0] is pending:
            self._pending.popleft()
