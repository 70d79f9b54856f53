"""Where an answer goes in Slack, and the state of each message an answer writes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot import formatting


class SignOfLife(Enum):
    REACTION = "reaction"  # 👀 on the question (channels)
    STATUS = "status"  # "is thinking…" assistant status in the thread (DMs)


@dataclass(frozen=True, slots=True)
class ThreadTarget:
    """Where an answer goes: a thread (or, with no thread_ts, the top level) for a person."""

    team_id: str
    channel: str
    thread_ts: str | None
    user_id: str
    question_ts: str | None = None
    sign_of_life: SignOfLife = SignOfLife.REACTION
    # Shown in turn under the "is thinking…" status (assistant.threads.setStatus loading_messages).
    loading_messages: tuple[str, ...] = ()


class Kind(Enum):
    STREAM = "stream"  # native: chat.startStream / appendStream / stopStream, Markdown
    MARKDOWN = "markdown"  # a stream Slack expired or refused mid-way: chat.update markdown_text
    MRKDWN = "mrkdwn"  # update mode: chat.postMessage / chat.update with mrkdwn `text`


LIMITS = {
    Kind.STREAM: formatting.MARKDOWN_TEXT_LIMIT,
    Kind.MARKDOWN: formatting.MARKDOWN_TEXT_LIMIT,
    Kind.MRKDWN: formatting.UPDATE_TEXT_LIMIT,
}


@dataclass(slots=True)
class MessageState:
    start: int  # offset of this message's text in the answer
    shown: int  # offset up to which Slack shows the answer in this message
    kind: Kind
    ts: str | None = None
    max_chars: int | None = None  # lowered when Slack says msg_too_long
    dirty: bool = False  # an append may or may not have landed: rewrite it whole at the end

    @property
    def limit(self) -> int:
        return min(LIMITS[self.kind], self.max_chars or LIMITS[self.kind])
