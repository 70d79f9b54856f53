"""The page's event feed: every change the page must show, numbered, replayable, awaitable.

The page reads it as Server-Sent Events (`GET /feed`); a page that reconnects sends the last id it
saw (`Last-Event-ID`) and gets what it missed, or — when that is no longer kept — a fresh
snapshot of the workspace. Each event carries the whole new state of what changed (a message,
a status, the prompts), so applying the latest one is always right.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
KEPT_EVENTS = 5_000


@dataclass(frozen=True, slots=True)
class FeedEvent:
    id: int
    kind: str  # "message", "status", "prompts"
    data: Json

    def sse(self) -> bytes:
        """This event as one Server-Sent Events frame."""
        body = json.dumps(self.data, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {body}\n\n".encode()


class Feed:
    """Numbered events, the most recent `keep` of them kept for reconnecting pages."""

    def __init__(self, *, keep: int = KEPT_EVENTS) -> None:
        self._events: deque[FeedEvent] = deque(maxlen=keep)
        self._last = 0
        self._tick = asyncio.Event()  # set, then replaced, at every publish

    @property
    def last_id(self) -> int:
        return self._last

    def publish(self, kind: str, data: Json) -> FeedEvent:
        self._last += 1
        event = FeedEvent(self._last, kind, data)
        self._events.append(event)
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()
        return event

    def after(self, seen: int) -> list[FeedEvent] | None:
        """Events newer than `seen`; None when some of them are no longer kept."""
        if seen > self._last:
            return None  # from another run of the server: its numbers mean nothing here
        if seen < self._last and (not self._events or self._events[0].id > seen + 1):
            return None
        return [event for event in self._events if event.id > seen]

    async def wait_after(self, seen: int, *, within: float) -> list[FeedEvent] | None:
        """Like `after`, but waits up to `within` seconds for something new ([] if nothing)."""
        tick = self._tick
        if self._last <= seen:
            try:
                await asyncio.wait_for(tick.wait(), within)
            except TimeoutError:
                return []
        return self.after(seen)
