"""Pacing of answer writes per workspace and method, learned from Slack's 429s.

Slack's limits are per app, per workspace, per method (chat.update is Tier 3 ≈ 50/min,
chat.appendStream Tier 4, start/stopStream Tier 2) and allow short bursts. So writes go out
freely until Slack says 429; then nothing goes to that method before `Retry-After` has passed
(intermediate writes skip it, final writes wait), and intermediate updates slow down for a
while, so many concurrent answers degrade to fewer, larger updates.

With replicas, a 429 seen by one is published through Redis (`Memory.publish_slack_block`) and
picked up by the others within `_REFRESH_SECONDS`, so they do not each have to hit it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

_MAX_SLOWDOWN = 16.0
_RECOVERY = 0.85  # each accepted write shrinks the slowdown by this factor
_REFRESH_SECONDS = 0.5
_JITTER_SECONDS = 0.25  # spreads final writes released by one Retry-After

Publish = Callable[[str, str, float], Awaitable[None]]
Lookup = Callable[[str, str], Awaitable[float]]


class WriteBudget:
    """Shared by every answer of one process; cheap, lock-free (single event loop)."""

    def __init__(
        self,
        *,
        base_interval: float,
        publish: Publish | None = None,
        lookup: Lookup | None = None,
    ) -> None:
        self._base_interval = base_interval
        self._blocked_until: dict[tuple[str, str], float] = {}
        self._slowdown: defaultdict[str, float] = defaultdict(lambda: 1.0)
        self._native_refused: set[str] = set()
        self._publish = publish
        self._lookup = lookup
        self._refreshed: dict[tuple[str, str], float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.rate_limited = 0
        self.on_rate_limited: Callable[[str], None] | None = None

    def interval(self, team_id: str) -> float:
        """The gap to keep between two intermediate writes to one message in this workspace."""
        return self._base_interval * self._slowdown[team_id]

    async def wait_turn(self, team_id: str, method: str) -> None:
        """Sleep while Slack has asked us (Retry-After) to leave this method alone.
        Callers `refresh` first to learn of other replicas' 429s."""
        remaining = self.blocked_for(team_id, method)
        while remaining > 0:  # Retry-After is a deadline, not an event: sleeping is the point
            await asyncio.sleep(remaining + random.uniform(0, _JITTER_SECONDS))
            remaining = self.blocked_for(team_id, method)

    def blocked_for(self, team_id: str, method: str) -> float:
        return max(0.0, self._blocked_until.get((team_id, method), 0.0) - time.monotonic())

    async def refresh(self, team_id: str, method: str) -> None:
        """Learn about 429s other replicas saw (at most every `_REFRESH_SECONDS`)."""
        key = (team_id, method)
        now = time.monotonic()
        if self._lookup is None or now - self._refreshed.get(key, 0.0) < _REFRESH_SECONDS:
            return
        self._refreshed[key] = now
        try:
            remaining = await self._lookup(team_id, method)
        except Exception:  # the shared view is an optimisation; local 429s still count
            log.debug("could not read shared Slack rate-limit state", exc_info=True)
            return
        if remaining > 0:
            self._block(key, now + remaining)

    def rate_limited_by_slack(self, team_id: str, method: str, retry_after: float) -> None:
        self.rate_limited += 1
        if self.on_rate_limited is not None:
            self.on_rate_limited(method)
        seconds = max(retry_after, 0.5)
        self._block((team_id, method), time.monotonic() + seconds)
        self._slowdown[team_id] = min(self._slowdown[team_id] * 2, _MAX_SLOWDOWN)
        if self._publish is not None:
            task = asyncio.create_task(self._publish(team_id, method, seconds))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def accepted(self, team_id: str) -> None:
        slowdown = self._slowdown.get(team_id)
        if slowdown is not None and slowdown > 1.0:
            self._slowdown[team_id] = max(1.0, slowdown * _RECOVERY)

    def native_refused(self, scope: str) -> bool:
        return scope in self._native_refused

    def refuse_native(self, scope: str) -> None:
        """Remember that Slack refused chat.startStream here, so later answers skip the try."""
        self._native_refused.add(scope)

    def _block(self, key: tuple[str, str], until: float) -> None:
        self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)
