"""Pure: what a conversation remembers, and how it is replayed into a fresh agent session."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bot.events import HistoryMessage

_THREAD_CONTEXT_HEADER = "Earlier messages in this Slack thread, before I was asked:"


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """One question and its answer, as remembered in Redis."""

    question: str
    answer: str
    interrupted: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0  # estimated when answered, with that model's prices
    user_id: str = ""
    asked_at: float = 0.0
    answered_at: float = 0.0
    turn_id: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> StoredTurn:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class KeyedTurn:
    """A stored turn and the conversation it belongs to (`team:channel[:thread_ts]`)."""

    conversation: str
    turn: StoredTurn


def replay_messages(turns: Sequence[StoredTurn]) -> list[HistoryMessage]:
    """Shape stored turns as Bedrock accepts them: user first, strictly alternating, no blanks.

    Consecutive messages of one role are merged; a trailing user message is dropped because
    the new question follows as `inputText`.
    """
    messages: list[HistoryMessage] = []
    for turn in turns:
        pairs: tuple[tuple[Literal["user", "assistant"], str], ...] = (
            ("user", turn.question),
            ("assistant", turn.answer),
        )
        for role, raw in pairs:
            text = raw.strip()
            if not text:
                continue
            if messages and messages[-1].role == role:
                messages[-1] = HistoryMessage(role, f"{messages[-1].text}\n\n{text}")
            elif messages or role == "user":
                messages.append(HistoryMessage(role, text))
    if messages and messages[-1].role == "user":
        messages.pop()
    return messages


def thread_transcript(
    messages: Iterable[Mapping[str, Any]], *, bot_user_id: str | None, before_ts: str
) -> str:
    """A late-joined thread as context: who said what, before the message that mentioned us."""
    lines: list[str] = []
    for message in messages:
        ts, text = message.get("ts"), message.get("text")
        if not isinstance(ts, str) or not isinstance(text, str) or not text.strip():
            continue
        if float(ts) >= float(before_ts):
            continue
        is_bot = bool(message.get("bot_id")) or message.get("user") == bot_user_id
        speaker = "assistant (me)" if is_bot else f"<@{message.get('user', 'someone')}>"
        lines.append(f"{speaker}: {text.strip()}")
    if not lines:
        return ""
    return "\n".join([_THREAD_CONTEXT_HEADER, *lines])
