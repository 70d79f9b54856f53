"""Where an answer goes in Slack, and the state of each message an answer writes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot import formatting, limits


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
    # The asker's own team (event `user_team`), which differs from `team_id` for Slack Connect
    # users; chat.startStream's recipient_team_id names it. None: the receiving workspace.
    user_team_id: str | None = None

    @property
    def recipient_team_id(self) -> str:
        return self.user_team_id or self.team_id


class Kind(Enum):
    STREAM = "stream"  # native: chat.startStream / appendStream / stopStream, Markdown
    MARKDOWN = "markdown"  # a stream Slack expired or refused mid-way: chat.update markdown_text
    # Update mode: a placeholder (then the newest step) posted, edited with markdown_text.
    UPDATE = "update"


# Every kind writes `markdown_text` (12,000 characters per call) or, with closing blocks,
# `markdown` blocks (12,000 cumulative per message): docs.slack.dev/reference/methods/chat.update,
# …/block-kit/blocks/markdown-block.
LIMITS = {kind: limits.MARKDOWN_TEXT_LIMIT for kind in Kind}


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


def fit(message: MessageState, text: str) -> int:
    """Pure: where `message`'s part of the answer `text` ends — all of it if it fits, else a
    cut within the message's limit (Slack counts the Markdown as sent), never before what the
    message already shows. The rest continues in the next message."""
    segment, floor = text[message.start :], message.shown - message.start
    return message.start + formatting.split_point(segment, message.limit, floor=floor)


class Recovery(Enum):
    """What the writer does next when Slack refuses a write for good."""

    NEW_MESSAGE = "new_message"  # the message was deleted: continue in a new one
    SPLIT_SOONER = "split_sooner"  # msg_too_long: Slack counts differently, cut smaller
    FALL_BACK = "fall_back"  # the stream was refused or expired: edit with chat.update
    GIVE_UP = "give_up"  # nothing else to try: the answer fails visibly, logged


SMALLEST_MESSAGE = 500
MESSAGE_RECOVERIES = 2
_MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message"})
_CHANNEL_GONE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "invalid_auth"})


def recovery(message: MessageState, error: str, *, recoveries: int) -> Recovery:
    """Pure: the next step after Slack refused `error` for `message`. Each step either changes
    the message (so the same refusal cannot repeat forever) or gives up."""
    if error in _MESSAGE_GONE and message.ts and recoveries < MESSAGE_RECOVERIES:
        return Recovery.NEW_MESSAGE
    if error == "msg_too_long" and message.limit > SMALLEST_MESSAGE:
        return Recovery.SPLIT_SOONER
    if message.kind is Kind.STREAM and error not in _CHANNEL_GONE:
        return Recovery.FALL_BACK
    return Recovery.GIVE_UP
