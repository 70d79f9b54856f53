"""Pure text work: Markdown → Slack, message splitting, sources, and every user-facing text.

No I/O here, so everything is unit- and property-tested in isolation.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Any

from slackify_markdown import slackify_markdown

from bot import tables
from bot.events import AgentFailure, FailureKind, Source
from bot.limits import SECTION_TEXT_LIMIT
from bot.slack_events import bot_mention

SIGN_OF_LIFE_REACTION = "eyes"
THINKING_STATUS = "is thinking…"
# Rotated by Slack under the status while a DM answer is on its way (setStatus loading_messages).
LOADING_MESSAGES = (
    "Reading the question…",
    "Asking the agent…",
    "Looking through the handbook…",
    "Putting the answer together…",
)
PLACEHOLDER_TEXT = "⏳ _Thinking…_"
EMPTY_QUESTION_HINT = (
    "Ask me something after the mention — for example `@me what is our refund policy?`"
)
EMPTY_ANSWER_TEXT = "_The agent returned an empty answer. Try rephrasing your question._"
INTERRUPTED_NOTE = "⚠️ _Answer interrupted — ask again to get the rest._"
DM_EMPTY_HINT = "Send me a question about the handbook — for example _What is our vacation policy?_"
NOT_ALLOWED_NOTE = (
    "Sorry, I only answer in a few channels in this workspace. Ask me in one of those, "
    "or send me a direct message."
)
ORDER_USAGE = "Usage: `{command} <order-id>` — for example `{command} ORD-88421`."
ORDER_LOOKING_UP = "Looking up {order_id}…"
ORDER_QUESTION = "What is the status of order {order_id}?"
FEEDBACK_THANKS = "Thanks for the feedback!"
FEEDBACK_BLOCK_ID = "answer_feedback"
FEEDBACK_ACTIONS = {"feedback_up": "up", "feedback_down": "down"}
TRUNCATED_INPUT_NOTE = (
    "_(Your message was {length:,} characters; I only read the first {limit:,}.)_"
)

_FAILURE_TEXTS: dict[FailureKind, str] = {
    FailureKind.THROTTLED: "I'm busy answering a lot of questions right now — please try again in a minute.",
    FailureKind.INVALID_INPUT: (
        "The agent couldn't accept that question (it may be too long or malformed). "
        "Please shorten or rephrase it."
    ),
    FailureKind.MISCONFIGURED: (
        "I'm misconfigured and can't reach my agent right now. An admin can find the details "
        "in the logs."
    ),
    FailureKind.TIMEOUT: "The agent took too long to answer. Please try again.",
    FailureKind.INTERRUPTED: "The answer was interrupted before it started. Please ask again.",
}
_GENERIC_FAILURE = "Something went wrong while answering. Please try again in a moment."
# How the agent said it stopped (harness stopReason, Knowledge Base guardrail), by failure code:
# shown even under partial text, since the reason is not "interrupted".
_STOP_TEXTS: dict[str, str] = {
    "max_tokens": "⚠️ _The answer reached the model's length limit and stops here._",
    "max_output_tokens_exceeded": "⚠️ _The answer reached the model's length limit and stops here._",
    "content_filtered": "🛡️ _The model's content filter stopped this answer._",
    "guardrail_intervened": "🛡️ _A guardrail intervened: this answer was blocked or changed._",
    "model_context_window_exceeded": (
        "⚠️ _This conversation is too long for the model — please start a new thread._"
    ),
    "timeout_exceeded": "⚠️ _The agent ran out of time before finishing. Please try again._",
    "max_iterations_exceeded": (
        "⚠️ _The agent gave up after too many steps. Try a simpler or more specific question._"
    ),
    "hook_stopped": "🛡️ _A policy hook stopped this answer._",
}


def new_reference() -> str:
    """A short id that ties a user-visible error to its log line."""
    return secrets.token_hex(4)


def failure_text(failure: AgentFailure, *, reference: str, partial: bool) -> str:
    """What the user reads when an answer fails; never the raw exception."""
    if failure.code in _STOP_TEXTS:
        return f"{_STOP_TEXTS[failure.code]} (ref `{reference}`)"
    if partial:
        return f"{INTERRUPTED_NOTE} (ref `{reference}`)"
    text = _FAILURE_TEXTS.get(failure.kind, _GENERIC_FAILURE)
    if failure.kind is FailureKind.THROTTLED:
        return text
    return f"{text} (ref `{reference}`)"


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove the bot's own mention(s); other people's mentions are part of the question."""
    if bot_user_id:
        text = bot_mention(bot_user_id).sub(" ", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def cap_input(text: str, limit: int) -> tuple[str, bool]:
    """Keep the first `limit` characters; say whether anything was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def to_mrkdwn(markdown: str) -> str:
    """Standard Markdown (what agents write) → Slack mrkdwn for the `text` field."""
    if not markdown.strip():
        return markdown.strip()
    # mrkdwn has no tables: they become aligned code blocks before conversion.
    return str(slackify_markdown(tables.tables_as_code(markdown))).rstrip("\n")


def sources_markdown(sources: Sequence[Source]) -> str:
    """Numbered sources under an answer, matching the agent's `[1]`-style markers."""
    if not sources:
        return ""
    lines = ["**Sources**"]
    for number, source in enumerate(sources, start=1):
        title = source.title.replace("[", "(").replace("]", ")")
        # Only web addresses are links: an s3:// URI opens nothing in Slack, so it stays a name.
        linked = source.url and source.url.startswith(("https://", "http://"))
        lines.append(f"{number}. [{title}]({source.url})" if linked else f"{number}. {title}")
    return "\n".join(lines)


_BREAKS = ("\n\n", "\n", ". ", " ")


def split_point(text: str, limit: int, *, floor: int = 0) -> int:
    """Where to cut `text` so the first part has at most `limit` characters.

    Prefers a paragraph break, then a line break, a sentence end, a space; never cuts before
    `floor` (text already shown must stay where it is) and never inside a surrogate pair or
    between a character and its combining marks.
    """
    if len(text) <= limit:
        return len(text)
    if floor >= limit:
        return max(floor, 1)
    window_start = max(floor, limit // 2)
    for separator in _BREAKS:
        end = limit
        while (found := text.rfind(separator, window_start, end)) != -1:
            cut = found + len(separator)
            if not _is_joined(text, cut):
                return cut
            end = cut - 1
    cut = limit
    while cut > max(floor, 1) and _is_joined(text, cut):
        cut -= 1
    return cut


def _is_joined(text: str, index: int) -> bool:
    """True when cutting before text[index] would split one visible character."""
    char = text[index]
    return (
        "\u0300" <= char <= "\u036f"
        or "\ufe00" <= char <= "\ufe0f"
        or char == "\u200d"
        or text[index - 1] == "\u200d"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
    )


def split_message(text: str, limit: int) -> list[str]:
    """Split a whole text into parts of at most `limit` characters; joined, they are `text`."""
    parts: list[str] = []
    while len(text) > limit:
        cut = split_point(text, limit)
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts


def section_blocks(mrkdwn: str) -> list[dict[str, Any]]:
    """Sections carrying `mrkdwn` whole, each within Block Kit's 3,000-character limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in split_message(mrkdwn, SECTION_TEXT_LIMIT)
        if part
    ]
