"""The only code that writes an answer into a Slack thread, while it grows.

One pump task per answer owns every write, so writes to a message are strictly ordered and a
late write can never show less than an earlier one. Text is flushed at once when it first
arrives (leading edge), then coalesced to at most one write per interval (trailing edge); the
final write goes out as soon as the answer ends and carries the complete text.

Native mode streams with chat.startStream/appendStream/stopStream; update mode posts a
placeholder and edits it with chat.update. A refused or expired stream continues on the same
message with chat.update. Text beyond one message continues in the next one, in the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import formatting
from bot.events import Progress
from bot.limits import FINAL_WRITE_DEADLINE_SECONDS, PLACEHOLDER_AFTER_SECONDS
from bot.settings import StreamingMode
from bot.slack_budget import WriteBudget
from bot.slack_calls import SlackCaller, SlackWriteError, UncertainWrite
from bot.slack_progress import Steps
from bot.slack_signs import SignsOfLife
from bot.slack_targets import (
    SMALLEST_MESSAGE,
    Kind,
    MessageState,
    Recovery,
    ThreadTarget,
    fit,
    recovery,
)
from bot.slack_writes import MessageWriter

log = logging.getLogger(__name__)


class AnswerStream:
    """Writes one answer into Slack: `begin`, then `append` as text arrives, then `end`."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        target: ThreadTarget,
        mode: StreamingMode,
        budget: WriteBudget,
        final_write_deadline: float = FINAL_WRITE_DEADLINE_SECONDS,
        show_progress: bool = True,
    ) -> None:
        self._target = target
        self._show_progress = show_progress
        self._steps = Steps()
        self._steps_failed = False
        self._mode = mode
        self._budget = budget
        self._slack = SlackCaller(
            client=client,
            budget=budget,
            team_id=target.team_id,
            final_write_deadline=final_write_deadline,
        )
        # Refusals are remembered per channel: Slack may stream in one and not in another.
        self._scope = f"{target.team_id}:{target.channel}"
        # Slack streams only replies in a thread; a top-level answer is posted and edited.
        self._native = target.thread_ts is not None and (
            mode is StreamingMode.NATIVE
            or (mode is StreamingMode.AUTO and not budget.native_refused(self._scope))
        )
        # Appended pieces, joined once per flush: `+=` on an attribute copies the whole
        # answer on every chunk.
        self._pieces: list[str] = []
        self._suffix = ""
        self._blocks: list[dict[str, Any]] | None = None
        self._blocks_due = False
        self._messages = [self._new_message(0)]
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._wrote_text = False
        self._placeholder_due = False  # no reaction or status: a placeholder if text is slow
        self._last_write = 0.0
        self._signs = SignsOfLife(slack=self._slack, target=target)
        self._writer = MessageWriter(
            slack=self._slack, target=target, steps=self._steps, show_progress=show_progress
        )
        self.first_visible_at: float | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self.message_ts: list[str] = []

    async def begin(self) -> None:
        """Show a sign of life at once: a reaction or a status (native), else a placeholder —
        in native mode only if no text comes within `PLACEHOLDER_AFTER_SECONDS` (the first
        text is then the sign of life, and costs no placeholder to clean up)."""
        if not self._native:
            await self._placeholder()
        elif not await self._signs.show():
            self._placeholder_due = True
        self._pump_task = asyncio.create_task(self._pump(), name="answer-pump")

    async def _placeholder(self) -> None:
        """Update mode's first message, or a native answer's when Slack took no reaction or
        status: the answer then grows in it with chat.update, as in update mode."""
        message = MessageState(start=0, shown=0, kind=Kind.UPDATE)
        with contextlib.suppress(SlackWriteError):
            text = formatting.PLACEHOLDER_TEXT
            if await self._writer.post(message, text, final=False, blocks=[]):
                self._messages[0], self._native = message, False

    def append(self, text: str) -> None:
        if text:
            self._pieces.append(text)
            self._wake.set()

    def progress(self, step: Progress) -> None:
        """An agent step started, changed or ended: shown beside the text, never in it."""
        if self._show_progress and not self._closing.is_set() and self._steps.update(step):
            self._wake.set()

    def close_steps(self, *, failed: bool) -> None:
        """How steps still open when the answer ends are marked: error, or else complete."""
        self._steps_failed = failed

    def _joined(self) -> str:
        if len(self._pieces) > 1:
            self._pieces[:] = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    @property
    def target(self) -> ThreadTarget:
        """Where this answer goes (a paused answer continues there, see bot/actions)."""
        return self._target

    @property
    def ended(self) -> bool:
        return self._closing.is_set()

    async def end(self, *, suffix: str = "", blocks: list[dict[str, Any]] | None = None) -> bool:
        """Write the complete answer (plus `suffix`), clear the sign of life; True if delivered."""
        self._suffix = suffix
        self._blocks = blocks
        self._slack.ending()  # FINAL_WRITE_DEADLINE_SECONDS counts from here
        self._steps.close_open(failed=self._steps_failed)
        self._closing.set()
        self._wake.set()
        delivered = True
        try:
            if self._pump_task is not None:
                await self._pump_task
        except SlackWriteError as exc:
            delivered = False
            log.error(
                "answer could not be delivered to Slack",
                extra={"slack_error": exc.error, "reference": exc.reference},
            )
        finally:
            await self._signs.clear()
        self.message_ts = [m.ts for m in self._messages if m.ts]
        return delivered

    async def _pump(self) -> None:
        if self._placeholder_due:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PLACEHOLDER_AFTER_SECONDS):
                    await self._wake.wait()
            if not self._wake.is_set():
                await self._placeholder()
        deferred_at: float | None = None
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._closing.is_set() and self._mode is StreamingMode.OFF:
                continue  # the baseline: nothing is shown until the answer is complete
            if not self._closing.is_set():
                await self._pace(deferred_at)
            final = self._closing.is_set()
            try:
                done = await self._flush(final=final)
            except SlackWriteError as exc:
                if final:
                    raise
                # An intermediate write Slack refused: keep going, the final write retries it.
                log.warning("slack refused an update", extra={"slack_error": exc.error})
                done = False
            if final:
                return
            deferred_at = None if done else time.monotonic()
            if not done:
                self._wake.set()  # Slack deferred us (429, hiccup): try again next interval

    async def _pace(self, deferred_at: float | None) -> None:
        """Wait out the gap between two writes (or after a deferred one); the end cuts it short.

        Leading edge: the first text goes out at once. After a 429 the next write goes out as
        soon as its Retry-After has passed, carrying everything that arrived meanwhile: a
        transient refusal costs the reader the Retry-After, not a slower pace.
        """
        gap = self._budget.interval(self._target.team_id)
        limited = self._slack.deferred
        if deferred_at is not None and limited is not None:
            now = time.monotonic()
            if self._budget.slowdown(self._target.team_id) > 1:
                # Sustained pressure: the workspace's longer gap holds, so the answers one
                # Retry-After released do not all try again at once (final writes go first).
                paced = deferred_at + gap - now
            else:
                paced = self._last_write + gap - now if self._wrote_text else 0.0
            wait = max(self._budget.release_delay(self._target.team_id, limited), paced)
        elif deferred_at is None and not self._wrote_text:
            return
        else:
            wait = (deferred_at or self._last_write) + gap - time.monotonic()
        if wait > 0:
            # A timeout scope, not wait_for: no extra task per pause.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._closing.wait()

    async def _flush(self, *, final: bool) -> bool:
        text = self._joined() + (self._suffix if final else "")
        recoveries = 0
        while True:
            message = self._messages[-1]
            cut = fit(message, text)
            closing = final or cut < len(text)
            try:
                # Closing blocks (feedback) go under the answer's last message only.
                self._blocks_due = final and cut == len(text)
                if not await self._write(message, text[:cut], closing=closing):
                    return False
            except UncertainWrite:
                # The append may have landed; assume it did and rewrite the whole message
                # with chat.update when it closes, so nothing shows twice or goes missing.
                message.shown, message.dirty = len(text[:cut]), True
                return False
            except SlackWriteError as exc:
                step = recovery(message, exc.error, recoveries=recoveries)
                if step is Recovery.NEW_MESSAGE:
                    recoveries += 1
                    message.ts, message.kind, message.shown = None, Kind.UPDATE, message.start
                elif step is Recovery.SPLIT_SOONER:
                    message.max_chars = max(SMALLEST_MESSAGE, message.limit * 3 // 4)
                elif step is Recovery.GIVE_UP:
                    raise
                self._fall_back(message, exc)  # same message, re-measured for its kind
                if (
                    exc.method == "chat.stopStream"
                    and exc.error != "message_not_in_streaming_state"
                ):
                    await self._writer.close_stream(message)  # else it stays open beside the update
                continue  # same message, re-measured for its new kind
            if cut == len(text):
                return True
            self._messages.append(self._new_message(cut))

    def _new_message(self, start: int) -> MessageState:
        kind = Kind.STREAM if self._native else Kind.UPDATE
        return MessageState(start=start, shown=start, kind=kind)

    async def _write(self, message: MessageState, text: str, *, closing: bool) -> bool:
        """Bring `message` up to the end of `text`; False when Slack deferred the write."""
        end = len(text)
        unchanged = end == message.start or (end == message.shown and message.ts)
        if not closing and unchanged:
            if self._steps.pending and end == message.start:
                written = await self._writer.write_steps(message, text)
                self._last_write = time.monotonic() if written else self._last_write
                return written
            if not (self._steps.pending and message.kind is Kind.STREAM):
                return True  # nothing new to show
        # Closing blocks (feedback) go under the answer's last message only.
        blocks = list(self._blocks or ()) if closing and self._blocks_due else []
        written = await self._writer.write(message, text, closing=closing, blocks=blocks)
        if written:
            message.shown = max(message.shown, end)
            self._last_write = time.monotonic()
            if end > message.start and not self._wrote_text:
                self._wrote_text = True
                self.first_visible_at = self._last_write
        return written

    def _fall_back(self, message: MessageState, exc: SlackWriteError) -> None:
        """A refused or expired stream: keep the same message, edit it with chat.update."""
        log.warning(
            "slack stream unavailable; continuing with chat.update",
            extra={"slack_error": exc.error},
        )
        self._native = False
        if message.ts is None:
            message.kind = Kind.UPDATE
            if exc.method == "chat.startStream":
                self._budget.refuse_native(self._scope)
        else:
            message.kind = Kind.MARKDOWN
