"""Small steps several surfaces share."""

from __future__ import annotations

from bot import formatting
from bot.conversation import AnswerSink


def question_text(raw: str, *, bot_user_id: str | None, limit: int, sink: AnswerSink) -> str:
    """The question without the bot's mention, cut to `limit` with a visible note if longer."""
    question = formatting.strip_mention(raw, bot_user_id)
    text, truncated = formatting.cap_input(question, limit)
    if truncated:
        note = formatting.TRUNCATED_INPUT_NOTE.format(length=len(question), limit=limit)
        sink.append(note + "\n\n")
    return text
