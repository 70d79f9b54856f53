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

from bot import blocks as slack_blocks
from bot import formatting, tables
from bot.settings import StreamingMode
from bot.slack_budget import WriteBudget
from bot.slack_calls import (
    FINAL_WRITE_DEADLINE_SECONDS,
    SlackCaller,
    SlackWriteError,
    UncertainWrite,
)
from bot.slack_targets import Kind, MessageState, SignOfLife, ThreadTarget

log = logging.getLogger(__name__)

_SMALLEST_MESSAGE = 500
_RECOVERIES = 2
_MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message"})
_CHANNEL_GONE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "invalid_auth"})


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
    ) -> None:
        self._target = target
        self._mode = mode
        self._budget = budget
        self._slack = SlackCaller(
            client=client,
            budget=budget,
            team_id=target.team_id,
            final_write_deadline=final_write_deadline,
        )
        self._scope = f"{target.team_id}:{target.channel[:1]}"
        # Slack streams only replies in a thread; a top-level answer is posted and edited.
        self._native = target.thread_ts is not None and (
            mode is StreamingMode.NATIVE
            or (mode is StreamingMode.AUTO and not budget.native_refused(self._scope))
        )
        self._markdown = ""
        self._suffix = ""
        self._blocks: list[dict[str, Any]] | None = None
        self._blocks_due = False
        self._messages = [self._new_message(0)]
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._wrote_text = False
        self._last_write = 0.0
        self._reacted = False
        self._status_set = False
        self.first_visible_at: float | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self.message_ts: list[str] = []

    async def begin(self) -> None:
        """Show a sign of life at once: a reaction or a status (native), a placeholder (update)."""
        target = self._target
        if self._native and target.sign_of_life is SignOfLife.REACTION and target.question_ts:
            self._reacted = await self._slack.best_effort(
                "reactions.add",
                channel=target.channel,
                timestamp=target.question_ts,
                name=formatting.SIGN_OF_LIFE_REACTION,
            )
        if self._native and not self._reacted:
            # DMs, or reactions rate-limited: the "is thinking…" status instead.
            self._status_set = await self._set_status(formatting.THINKING_STATUS)
        elif not self._native:
            with contextlib.suppress(SlackWriteError):
                await self._post(self._messages[0], formatting.PLACEHOLDER_TEXT, final=False)
        self._pump_task = asyncio.create_task(self._pump(), name="answer-pump")

    def append(self, text: str) -> None:
        if text:
            self._markdown += text
            self._wake.set()

    @property
    def text(self) -> str:
        return self._markdown

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
            if self._status_set:
                await self._slack.clean_up(
                    "assistant.threads.setStatus",
                    channel_id=self._target.channel,
                    thread_ts=self._target.thread_ts,
                    status="",
                )
            if self._reacted and self._target.question_ts:
                await self._slack.clean_up(
                    "reactions.remove",
                    channel=self._target.channel,
                    timestamp=self._target.question_ts,
                    name=formatting.SIGN_OF_LIFE_REACTION,
                )
        self.message_ts = [m.ts for m in self._messages if m.ts]
        return delivered

    async def _set_status(self, status: str) -> bool:
        return await self._slack.best_effort(
            "assistant.threads.setStatus",
            channel_id=self._target.channel,
            thread_ts=self._target.thread_ts,
            status=status,
            loading_messages=list(self._target.loading_messages) or None,
        )

    async def _pump(self) -> None:
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

        Leading edge: the first text goes out at once, unless Slack just deferred it.
        """
        gap = self._budget.interval(self._target.team_id)
        since = deferred_at if deferred_at is not None else self._last_write
        if deferred_at is None and not self._wrote_text:
            return
        wait = since + gap - time.monotonic()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), wait)

    async def _flush(self, *, final: bool) -> bool:
        text = self._markdown + (self._suffix if final else "")
        recoveries = 0
        while True:
            message = self._messages[-1]
            cut = self._fit(message, text)
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
                if exc.error in _MESSAGE_GONE and message.ts and recoveries < _RECOVERIES:
                    # Someone deleted the message we were writing: continue in a new one.
                    recoveries += 1
                    message.ts, message.kind, message.shown = None, Kind.MRKDWN, message.start
                    continue
                if exc.error == "msg_too_long" and message.limit > _SMALLEST_MESSAGE:
                    # Slack counts differently than we do (entities, emoji): split sooner.
                    message.max_chars = max(_SMALLEST_MESSAGE, message.limit * 3 // 4)
                    continue
                if message.kind is not Kind.STREAM or exc.error in _CHANNEL_GONE:
                    raise
                self._fall_back(message, exc)
                if (
                    exc.method == "chat.stopStream"
                    and exc.error != "message_not_in_streaming_state"
                ):
                    await self._close_stream(message)  # else it stays open beside the update
                continue  # same message, re-measured for its new kind
            if cut == len(text):
                return True
            self._messages.append(self._new_message(cut))

    def _new_message(self, start: int) -> MessageState:
        kind = Kind.STREAM if self._native else Kind.MRKDWN
        return MessageState(start=start, shown=start, kind=kind)

    def _fit(self, message: MessageState, text: str) -> int:
        """How much of `text` this message can hold, measured the way Slack counts it."""
        segment, floor = text[message.start :], message.shown - message.start
        if message.kind is not Kind.MRKDWN:
            return message.start + formatting.split_point(segment, message.limit, floor=floor)
        budget = message.limit
        while True:
            cut = formatting.split_point(segment, budget, floor=floor)
            overflow = len(formatting.to_mrkdwn(segment[:cut])) - message.limit
            if overflow <= 0 or cut <= floor + 1:
                return message.start + cut
            budget = max(floor + 1, cut - overflow - 16)

    async def _write(self, message: MessageState, text: str, *, closing: bool) -> bool:
        """Bring `message` up to the end of `text`; False when Slack deferred the write."""
        end = len(text)
        if not closing and (end == message.start or (end == message.shown and message.ts)):
            return True  # nothing new to show
        if message.kind is Kind.STREAM:
            written = await self._write_stream(message, text, closing=closing)
        elif message.kind is Kind.MARKDOWN:
            written = await self._write_markdown(message, text[message.start :], final=closing)
        else:
            body = formatting.to_mrkdwn(text[message.start :]) or formatting.PLACEHOLDER_TEXT
            written = await self._post(message, body, final=closing)
        if written:
            message.shown = end
            self._last_write = time.monotonic()
            if end > message.start and not self._wrote_text:
                self._wrote_text = True
                self.first_visible_at = self._last_write
        return written

    async def _write_stream(self, message: MessageState, text: str, *, closing: bool) -> bool:
        delta = text[message.shown :]
        blocks = self._final_blocks(message, closing) or None
        if message.ts is None and closing:
            # Nothing streamed yet: one chat.postMessage beats startStream + stopStream (Tier 2).
            message.kind = Kind.MARKDOWN
            return await self._write_markdown(message, text[message.start :], final=True)
        if message.ts is None:
            response = await self._slack.call(
                "chat.startStream",
                final=closing,
                channel=self._target.channel,
                thread_ts=self._target.thread_ts,
                recipient_team_id=self._target.team_id,
                recipient_user_id=self._target.user_id,
                markdown_text=delta or None,
            )
            if response is None:
                return False
            message.ts = str(response["ts"])
            if not closing:
                return True
            delta = ""
        if closing:
            done = await self._slack.call(
                "chat.stopStream",
                final=True,
                channel=self._target.channel,
                ts=message.ts,
                markdown_text=delta or None,
                blocks=blocks,
            )
            if done is None:
                return False
            message.kind = Kind.MARKDOWN  # stopped: any later edit is a chat.update
            # A streamed table shows as raw pipes; the final edit renders it as a table block.
            if message.dirty or tables.has_table(text[message.start :]):
                message.dirty = False
                return await self._write_markdown(message, text[message.start :], final=True)
            return True
        if not delta:
            return True
        response = await self._slack.call(
            "chat.appendStream",
            final=False,
            channel=self._target.channel,
            ts=message.ts,
            markdown_text=delta,
        )
        return response is not None

    async def _post(self, message: MessageState, body: str, *, final: bool) -> bool:
        extra = self._final_blocks(message, final)
        # With blocks, Slack shows the blocks and keeps `text` as the notification fallback.
        blocks = formatting.section_blocks(body) + extra if extra else None
        body = slack_blocks.with_alerts(body, extra, limit=message.limit)
        if message.ts is not None:
            return await self._update(message, final=final, text=body, blocks=blocks)
        response = await self._slack.call(
            "chat.postMessage",
            final=final,
            channel=self._target.channel,
            thread_ts=self._target.thread_ts,
            text=body,
            blocks=blocks,
        )
        if response is not None:
            message.ts = str(response["ts"])
        return response is not None

    async def _write_markdown(self, message: MessageState, markdown: str, *, final: bool) -> bool:
        """Markdown that Slack renders itself, posted or edited in place."""
        extra = self._final_blocks(message, final)
        # markdown_text cannot travel with blocks: with closing blocks (or a table, which only
        # a table block renders) the Markdown becomes blocks and `text` a plain fallback.
        content = slack_blocks.message_content(markdown, extra)
        if message.ts is not None:
            return await self._update(message, final=final, **content)
        response = await self._slack.call(
            "chat.postMessage",
            final=final,
            channel=self._target.channel,
            thread_ts=self._target.thread_ts,
            **content,
        )
        if response is not None:
            message.ts = str(response["ts"])
        return response is not None

    async def _update(self, message: MessageState, *, final: bool, **content: Any) -> bool:
        response = await self._slack.call(
            "chat.update", final=final, channel=self._target.channel, ts=message.ts, **content
        )
        return response is not None

    def _final_blocks(self, message: MessageState, final: bool) -> list[dict[str, Any]]:
        return list(self._blocks or ()) if final and self._blocks_due else []

    async def _close_stream(self, message: MessageState) -> None:
        """Slack refused the stop with its text: stop it bare, so the update can land."""
        await self._slack.best_effort(
            "chat.stopStream", channel=self._target.channel, ts=message.ts
        )

    def _fall_back(self, message: MessageState, exc: SlackWriteError) -> None:
        """A refused or expired stream: keep the same message, edit it with chat.update."""
        log.warning(
            "slack stream unavailable; continuing with chat.update",
            extra={"slack_error": exc.error},
        )
        self._native = False
        if message.ts is None:
            message.kind = Kind.MRKDWN
            if exc.method == "chat.startStream":
                self._budget.refuse_native(self._scope)
        else:
            message.kind = Kind.MARKDOWN
