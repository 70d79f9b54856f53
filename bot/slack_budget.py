"""Pacing of answer writes per workspace and method, learned from Slack's 429s.

Slack's limits are per app, per workspace, per method (chat.update is Tier 3 ≈ 50/min,
chat.appendStream Tier 4, start/stopStream Tier 2) and allow short bursts. So writes go out
freely until Slack says 429; then nothing goes to that method before `Retry-After` has passed
(intermediate writes skip it, final writes wait).

One refusal is not pressure: a transient 429 (another app, a burst) costs the reader its
Retry-After and nothing more. Intermediate updates slow down only under *sustained* pressure —
several answers refused within `_PRESSURE_WINDOW` — and the slowdown fades as those refusals
age out or as Slack accepts writes again, so many concurrent answers degrade to fewer, larger
updates and recover once Slack stops refusing.

With replicas, a 429 seen by one is published through Redis (`Memory.publish_slack_block`) and
picked up by the others within `_REFRESH_SECONDS`, so they do not each have to hit it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

log = logging.getLogger(__name__)

_MAX_SLOWDOWN = 16.0
_PRESSURE_WINDOW = 10.0  # seconds a 429 counts towards sustained pressure
_TRANSIENT_ANSWERS = 2  # this many refused answers in the window is still no pressure
_NATIVE_RETRY_SECONDS = 300.0  # a channel that refused chat.startStream is tried again after
_REFRESH_SECONDS = 0.5
_PROBE_SECONDS = 2.0  # a probe that never answers stops holding the others back after this
_JITTER_SECONDS = 0.25  # spreads the writes released by one Retry-After (and replicas')

Publish = Callable[[str, str, float], Coroutine[Any, Any, None]]
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
        # Per workspace: (when, which answer) of recent 429s, oldest first.
        self._refusals: dict[str, deque[tuple[float, Hashable]]] = {}
        self._native_refused: dict[str, float] = {}
        # After a 429, one intermediate write probes whether Slack takes writes again before
        # the others that one Retry-After held back follow (key → until when it may take).
        self._probing: dict[tuple[str, str], float] = {}
        self._publish = publish
        self._lookup = lookup
        self._refreshed: dict[tuple[str, str], float] = {}
        # After a 429, final writes to that method go one at a time for a while (key → the
        # queue, until when): the writes one Retry-After held back would otherwise all go at
        # its end, one would land and the rest be refused again.
        self._queues: dict[tuple[str, str], tuple[asyncio.Lock, float]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.on_rate_limited: Callable[[str], None] | None = None

    def interval(self, team_id: str) -> float:
        """The gap to keep between two intermediate writes to one message in this workspace."""
        return self._base_interval * self.slowdown(team_id)

    def slowdown(self, team_id: str) -> float:
        """1 unless several answers were refused lately; doubles with each one beyond that."""
        refusals = self._refusals.get(team_id)
        if not refusals:
            return 1.0
        horizon = time.monotonic() - _PRESSURE_WINDOW
        while refusals and refusals[0][0] < horizon:
            refusals.popleft()
        answers = len({answer for _, answer in refusals})
        return min(_MAX_SLOWDOWN, 2.0 ** max(0, answers - _TRANSIENT_ANSWERS))

    async def wait_turn(self, team_id: str, method: str) -> None:
        """Sleep while Slack has asked us (Retry-After) to leave this method alone.
        Callers `refresh` first to learn of other replicas' 429s."""
        remaining = self.blocked_for(team_id, method)
        while remaining > 0:  # Retry-After is a deadline, not an event: sleeping is the point
            await asyncio.sleep(remaining + random.uniform(0, _JITTER_SECONDS))
            remaining = self.blocked_for(team_id, method)

    def queue(self, team_id: str, method: str) -> asyncio.Lock | None:
        """The lock final writes to `method` take in turn, while it was refused lately."""
        key = (team_id, method)
        entry = self._queues.get(key)
        if entry is None:
            return None
        lock, until = entry
        if time.monotonic() >= until and not lock.locked():
            del self._queues[key]
            return None
        return lock

    def may_send(self, team_id: str, method: str) -> bool:
        """Whether an intermediate write may go to `method` now: not inside Retry-After, and
        not while another write is finding out whether Slack has recovered."""
        key = (team_id, method)
        if self.blocked_for(team_id, method) > 0:
            return False
        if key not in self._probing:
            return True
        now = time.monotonic()
        if now < self._probing[key]:
            return False
        self._probing[key] = now + _PROBE_SECONDS
        return True

    def release_delay(self, team_id: str, method: str) -> float:
        """How long an intermediate write to `method` should wait: its Retry-After, spread a
        little so the answers one 429 held back do not all hit Slack in the same instant."""
        remaining = self.blocked_for(team_id, method)
        if remaining <= 0 and self._probing.get((team_id, method), 0.0) > time.monotonic():
            remaining = 0.05  # another write is probing: look again shortly
        return remaining + random.uniform(0.005, _JITTER_SECONDS) if remaining > 0 else 0.0

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

    def rate_limited_by_slack(
        self, team_id: str, method: str, retry_after: float, *, answer: Hashable = None
    ) -> None:
        """Slack said 429 to `answer` (any hashable naming it; None: not an answer's write)."""
        if self.on_rate_limited is not None:
            self.on_rate_limited(method)
        seconds = max(retry_after, 0.5)
        now = time.monotonic()
        self._block((team_id, method), now + seconds)
        self._probing[(team_id, method)] = 0.0  # the first write after Retry-After probes
        lock = self._queues.get((team_id, method), (asyncio.Lock(), 0.0))[0]
        self._queues[(team_id, method)] = (lock, now + _PRESSURE_WINDOW)
        self._refusals.setdefault(team_id, deque()).append((now, answer))
        if self._publish is not None:
            self.keep(asyncio.create_task(self._publish(team_id, method, seconds)))

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a background task of the writers (publishing a 429, a late clean-up) until it
        is done: the loop keeps only weak references."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def accepted(self, team_id: str, method: str = "") -> None:
        """Slack took a write: the oldest refusal is forgiven, so a few accepted writes bring
        the pace back even before the refusals age out; the method is open again."""
        self._probing.pop((team_id, method), None)
        refusals = self._refusals.get(team_id)
        if refusals:
            refusals.popleft()

    def native_refused(self, scope: str) -> bool:
        """Whether Slack refused chat.startStream in `scope` (a channel) a short while ago."""
        refused_at = self._native_refused.get(scope)
        if refused_at is None:
            return False
        if time.monotonic() - refused_at >= _NATIVE_RETRY_SECONDS:
            del self._native_refused[scope]  # streaming may have been switched on since: try again
            return False
        return True

    def refuse_native(self, scope: str) -> None:
        """Remember that Slack refused chat.startStream here, so answers soon after skip the try."""
        self._native_refused[scope] = time.monotonic()

    def _block(self, key: tuple[str, str], until: float) -> None:
        self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)
