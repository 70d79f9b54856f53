"""The Slack calls that bring one message of an answer up to date, by message kind.

`MessageWriter.write` is told what a message should show now (its text, whether this write
closes it, the blocks that go under it) and makes the one call that does it: chat.startStream /
appendStream / stopStream for a stream, otherwise chat.postMessage / chat.update with
`markdown_text` (12,000 characters; docs.slack.dev/reference/methods/chat.update and
…/chat.postMessage) — after a stream ended or was refused, and in update mode from the
placeholder on. With closing blocks the Markdown travels as `markdown` blocks and `text` is
the plain notification fallback. Pending agent steps travel in the stream calls as
`task_update` chunks. It returns False when Slack deferred the write (429 or a hiccup); the
stream's pump decides when to try again.
"""

from __future__ import annotations

from typing import Any

from bot import blocks as slack_blocks
from bot import formatting, tables
from bot.slack_calls import SlackCaller, SlackWriteError
from bot.slack_progress import TASK_DISPLAY_MODE, Steps
from bot.slack_targets import Kind, MessageState, ThreadTarget

Blocks = list[dict[str, Any]]
_SUSTAINED_REFUSALS = 2


class MessageWriter:
    def __init__(
        self, *, slack: SlackCaller, target: ThreadTarget, steps: Steps, show_progress: bool
    ) -> None:
        self._slack = slack
        self._target = target
        self._steps = steps
        self._show_progress = show_progress

    async def write(
        self, message: MessageState, text: str, *, closing: bool, blocks: Blocks
    ) -> bool:
        """Make `message` show `text[message.start:]` (the answer so far, cut for it)."""
        if message.kind is Kind.STREAM:
            return await self._write_stream(message, text, closing=closing, blocks=blocks)
        markdown = text[message.start :] or formatting.PLACEHOLDER_TEXT
        return await self.post(message, markdown, final=closing, blocks=blocks)

    async def write_steps(self, message: MessageState, text: str) -> bool:
        """Steps before any text: the plan opens the stream, or (update mode) the placeholder
        shows the newest step as one line."""
        if message.kind is Kind.STREAM:
            return await self._write_stream(message, text, closing=False, blocks=[])
        line = self._steps.status_line()
        self._steps.take_chunks()
        if message.kind is not Kind.UPDATE or not line:
            return True
        return await self.post(message, line, final=False, blocks=[])

    async def post(
        self, message: MessageState, markdown: str, *, final: bool, blocks: Blocks
    ) -> bool:
        """Markdown that Slack renders itself, posted or edited in place."""
        # markdown_text cannot travel with blocks: with closing blocks (or a table, which only
        # a table block renders) the Markdown becomes blocks and `text` a plain fallback.
        content = slack_blocks.message_content(markdown, blocks)
        if message.ts is not None:
            return await self._update(message, final=final, **content)
        return await self._post_new(message, final=final, **content)

    async def _post_new(self, message: MessageState, *, final: bool, **content: Any) -> bool:
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

    async def _stream_call(self, method: str, *, final: bool, delta: str, **args: Any) -> Any:
        """One stream call; pending steps travel as task_update chunks beside the text."""
        tasks = self._steps.take_chunks() if self._steps.pending else []
        if tasks:
            text_chunk = [{"type": "markdown_text", "text": delta}] if delta else []
            args["chunks"] = [*tasks, *text_chunk]
        else:
            args["markdown_text"] = delta or None
        try:
            response = await self._slack.call(
                method, final=final, channel=self._target.channel, **args
            )
        except SlackWriteError:
            self._steps.put_back(tasks)
            raise
        if response is None:
            self._steps.put_back(tasks)
        return response

    async def _write_stream(
        self, message: MessageState, text: str, *, closing: bool, blocks: Blocks
    ) -> bool:
        delta = text[message.shown :]
        if message.ts is None and closing and not self._steps.pending:
            # Nothing streamed yet: one chat.postMessage beats startStream + stopStream (Tier 2).
            message.kind = Kind.MARKDOWN
            markdown = text[message.start :]
            return await self.post(message, markdown, final=True, blocks=blocks)
        if message.ts is None:
            response = await self._stream_call(
                "chat.startStream",
                final=closing,
                delta=delta,
                thread_ts=self._target.thread_ts,
                recipient_team_id=self._target.recipient_team_id,
                recipient_user_id=self._target.user_id,
                task_display_mode=TASK_DISPLAY_MODE if self._show_progress else None,
            )
            if response is None:
                return False
            message.ts = str(response["ts"])
            if not closing:
                return True
            delta = ""
        if closing:
            return await self._stop_stream(message, text, delta=delta, blocks=blocks)
        if not delta and not self._steps.pending:
            return True
        response = await self._stream_call(
            "chat.appendStream", final=False, delta=delta, ts=message.ts
        )
        return response is not None

    async def _stop_stream(
        self, message: MessageState, text: str, *, delta: str, blocks: Blocks
    ) -> bool:
        done = await self._stream_call(
            "chat.stopStream", final=True, delta=delta, ts=message.ts, blocks=blocks or None
        )
        if done is None:
            return False
        message.kind = Kind.MARKDOWN  # stopped: any later edit is a chat.update
        # A streamed table shows as raw pipes; the final edit renders it as a table block.
        if message.dirty or tables.has_table(text[message.start :]):
            message.dirty = False
            markdown = text[message.start :]
            return await self.post(message, markdown, final=True, blocks=blocks)
        return True

    async def _update(self, message: MessageState, *, final: bool, **content: Any) -> bool:
        args = {"channel": self._target.channel, "ts": message.ts, **content}
        if not (final and self._update_held()):
            # A final edit is tried once like an update first: if Slack defers it (429), the
            # final text goes out through chat.postMessage instead of waiting for chat.update.
            if await self._slack.call("chat.update", final=False, **args) is not None:
                return True
            if not final:
                return False
        if self._update_held() and self._post_sooner():
            return await self._repost(message, **content)
        return await self._slack.call("chat.update", final=True, **args) is not None

    def _post_sooner(self) -> bool:
        """Whether a new post can carry the final text sooner than chat.update: free now, or
        its (per-channel) Retry-After ends first."""
        post = self._slack.blocked_for("chat.postMessage", self._target.channel)
        return post <= 0 or post < self._slack.blocked_for("chat.update")

    def _update_held(self) -> bool:
        """chat.update is inside a Retry-After in this workspace, or answered this answer 429
        twice in a row (sustained, not one refusal)."""
        return (
            self._slack.blocked_for("chat.update") > 0
            or self._slack.refusals.get("chat.update", 0) >= _SUSTAINED_REFUSALS
        )

    async def _repost(self, message: MessageState, **content: Any) -> bool:
        """Finish through another method: post the complete message anew, then delete the old
        one, instead of holding the final text back behind chat.update's Retry-After."""
        old = message.ts
        if not await self._post_new(message, final=True, **content):
            return False
        if old and old != message.ts:
            # The answer is complete below it: removing the old message holds nothing up.
            self._slack.clean_up_later("chat.delete", channel=self._target.channel, ts=old)
        return True

    async def close_stream(self, message: MessageState) -> None:
        """Slack refused the stop with its text: stop it bare, so the update can land."""
        await self._slack.best_effort(
            "chat.stopStream", channel=self._target.channel, ts=message.ts
        )
