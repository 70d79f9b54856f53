"""Pacing of answer writes per workspace and method, learned from Slack's 429s.

Slack's limits are per app, per workspace, per method (chat.update is Tier 3 ≈ 50/min,
chat.appendStream Tier 4, start/stopStream Tier 2) and allow short bursts. So writes go out
freely until Slack says 429; then nothing goes to that method before `Retry-After` has passed,
and intermediate updates slow down for a while (final writes never wait for pacing, only for
Retry-After), so many concurrent answers degrade to fewer, larger updates.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

_MAX_SLOWDOWN = 16.0
_RECOVERY = 0.85  # each accepted write shrinks the slowdown by this factor


class WriteBudget:
    """Shared by every answer of one process; cheap, lock-free (single event loop)."""

    def __init__(self, *, base_interval: float) -> None:
        self._base_interval = base_interval
        self._blocked_until: dict[tuple[str, str], float] = {}
        self._slowdown: defaultdict[str, float] = defaultdict(lambda: 1.0)
        self._native_refused: set[str] = set()
        self.rate_limited = 0

    def interval(self, team_id: str) -> float:
        """The gap to keep between two intermediate writes to one message in this workspace."""
        return self._base_interval * self._slowdown[team_id]

    async def wait_turn(self, team_id: str, method: str) -> None:
        """Sleep while Slack has asked us (Retry-After) to leave this method alone."""
        while True:
            remaining = self._blocked_until.get((team_id, method), 0.0) - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)

    def blocked_for(self, team_id: str, method: str) -> float:
        return max(0.0, self._blocked_until.get((team_id, method), 0.0) - time.monotonic())

    def rate_limited_by_slack(self, team_id: str, method: str, retry_after: float) -> None:
        self.rate_limited += 1
        until = time.monotonic() + max(retry_after, 0.5)
        key = (team_id, method)
        self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)
        self._slowdown[team_id] = min(self._slowdown[team_id] * 2, _MAX_SLOWDOWN)

    def accepted(self, team_id: str) -> None:
        slowdown = self._slowdown.get(team_id)
        if slowdown is not None and slowdown > 1.0:
            self._slowdown[team_id] = max(1.0, slowdown * _RECOVERY)

    def native_refused(self, scope: str) -> bool:
        return scope in self._native_refused

    def refuse_native(self, scope: str) -> None:
        """Remember that Slack refused chat.startStream here, so later answers skip the try."""
        self._native_refused.add(scope)
