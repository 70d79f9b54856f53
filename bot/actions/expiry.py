"""Unanswered confirmations turn "expired" after CONFIRM_TIMEOUT_SECONDS, on some replica.

The replica that showed a question sets a timer for it; every replica also sweeps the store's
index of due confirmations, so a question whose replica died (its timers with it) still expires.
The store's open → expired transition is atomic: exactly one of them edits the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.receipts import show
from bot.actions.store import Pending, PendingStore, Stored
from bot.metrics import Metrics

if TYPE_CHECKING:
    from bot.installations.workspaces import SpeakFor

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # how late a confirmation whose replica died may turn "expired"


@dataclass(frozen=True, slots=True)
class Confirmations:
    """What edits a shown confirmation, on a click or when it expires: where confirmations are
    kept, Slack, and the counters."""

    store: PendingStore
    metrics: Metrics
    client: AsyncWebClient


class Expiry:
    def __init__(
        self, parts: Confirmations, *, every: float, speak_for: SpeakFor | None = None
    ) -> None:
        self._parts = parts
        self._speak_for = speak_for
        self._every = min(SWEEP_SECONDS, every)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._spawn(self._sweep(), "confirmation-sweep")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def schedule(self, pending: Pending) -> None:
        self._spawn(self._at(pending), "confirmation-expiry")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _at(self, pending: Pending) -> None:
        await asyncio.sleep(max(0.0, pending.expires_at - time.time()))
        await self.expire(pending.asked.conversation, pending.pending_id)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            for conversation, pending_id in await self._parts.store.due(time.time()):
                try:
                    await self.expire(conversation, pending_id)
                except Exception:  # one bad entry must not stop the sweep for everyone
                    log.exception(
                        "could not expire a confirmation", extra={"pending_id": pending_id}
                    )

    async def expire(self, conversation: str, pending_id: str) -> None:
        expired = await self._parts.store.expire(conversation, pending_id)
        await self._parts.store.forget(conversation, pending_id)
        if not expired:
            return  # answered in time, or another replica already expired it
        stored = await self._parts.store.load(conversation, pending_id)
        if not isinstance(stored, Stored):
            return
        self._parts.metrics.confirmations.labels(outcome="expired").inc()
        log.info(
            "confirmation expired",
            extra={"invocation_id": stored.pending.request.invocation_id, "pending_id": pending_id},
        )
        pending = stored.pending
        async with self._speaking(pending.place.team_id, pending.asked.attributes) as able:
            if able:
                await show(self._parts.client, stored, expired=True, response_url=None, ts=None)

    def _speaking(
        self, team_id: str, attributes: Mapping[str, str]
    ) -> AbstractAsyncContextManager[bool]:
        """OAuth mode: the edit goes out with the confirmation's own workspace token (no
        request carries one here; the expiry may be another replica's)."""
        if self._speak_for is None:
            return nullcontext(True)
        return self._speak_for(team_id, attributes.get("slackEnterpriseId"))
