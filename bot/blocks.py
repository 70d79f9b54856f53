"""Pure: the Block Kit an answer's message carries — its text as blocks, feedback, alerts.

Block types follow slack_sdk.models.blocks (3.48): `context_actions` holding a
`feedback_buttons` element (docs.slack.dev/reference/block-kit/blocks/context-actions-block),
`alert` (…/blocks/alert-block), `table` (…/blocks/table-block), `markdown` (…/markdown-block).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from bot import formatting, tables
from bot.limits import ALERT_TEXT_LIMIT, SECTION_TEXT_LIMIT
from bot.limits import MARKDOWN_BLOCKS_LIMIT as MARKDOWN_BLOCKS_LIMIT  # slack_respond reads it here

FEEDBACK_ACTION = "answer_feedback"  # the feedback_buttons element's action_id
_VOTE_VALUES = {"up": "up", "down": "down"}
AlertLevel = Literal["default", "info", "warning", "error", "success"]

Block = dict[str, Any]


def feedback_block(answer: str) -> Block:
    """👍/👎 under a finished answer; each button's value is its vote and `answer` (≤ 2,000)."""
    buttons = {
        f"{kind}_button": {
            "text": {"type": "plain_text", "text": label},
            "accessibility_label": label_for,
            "value": f"{vote}:{answer}",
        }
        for kind, vote, label, label_for in (
            ("positive", "up", "👍", "This answer helped"),
            ("negative", "down", "👎", "This answer did not help"),
        )
    }
    element = {"type": "feedback_buttons", "action_id": FEEDBACK_ACTION, **buttons}
    return {
        "type": "context_actions",
        "block_id": formatting.FEEDBACK_BLOCK_ID,
        "elements": [element],
    }


def read_vote(action: Mapping[str, Any]) -> tuple[str, str] | None:
    """(vote, answer) from a click: a feedback_buttons value, or a legacy 👍/👎 button's."""
    value = str(action.get("value") or "")
    legacy = formatting.FEEDBACK_ACTIONS.get(str(action.get("action_id")))
    if legacy is not None:  # answers posted before feedback_buttons: the vote is the button
        return (legacy, value) if value else None
    vote, _, answer = value.partition(":")
    return (_VOTE_VALUES[vote], answer) if vote in _VOTE_VALUES and answer else None


def alert_block(text: str, *, level: AlertLevel = "warning") -> Block:
    """An error or interruption note, shown as Slack's alert (mrkdwn text)."""
    body = formatting.to_mrkdwn(text)[:ALERT_TEXT_LIMIT]
    return {"type": "alert", "level": level, "text": {"type": "mrkdwn", "text": body}}


def closing_blocks(*, answer: str | None, alert: str | None = None) -> list[Block]:
    """What goes under an answer's last message: an alert (if it failed), then feedback.

    The signature is what the writer relies on; `answer` None means nothing to rate.
    """
    blocks: list[Block] = []
    if alert:
        blocks.append(alert_block(alert))
    if answer is not None:
        blocks.append(feedback_block(answer))
    return blocks


def text_blocks(markdown: str) -> list[Block]:
    """An answer's Markdown as blocks: `markdown` blocks, its first table as a `table` block.

    Slack renders one table block per message; later or larger tables become aligned code.
    """
    blocks: list[Block] = []
    table_used = False
    pending = ""
    for segment in tables.segments(markdown):
        table = segment.table
        if table is not None and table.fits_block and not table_used:
            blocks += _markdown(pending)
            blocks.append(tables.table_block(table))
            table_used, pending = True, ""
        elif table is not None:
            pending += tables.as_code(table) + "\n"
        else:
            pending += segment.text
    return blocks + _markdown(pending)


def _markdown(text: str) -> list[Block]:
    text = text.strip("\n")
    return [{"type": "markdown", "text": text[:MARKDOWN_BLOCKS_LIMIT]}] if text.strip() else []


def message_content(markdown: str, closing: Sequence[Block]) -> dict[str, Any]:
    """chat.postMessage / chat.update content for Markdown with closing blocks under it.

    `markdown_text` cannot travel with `blocks`, so the Markdown becomes blocks and `text` the
    notification fallback — plain words, not raw Markdown.
    """
    if not closing and not tables.has_table(markdown):
        return {"markdown_text": markdown}
    return block_content(markdown, closing)


def block_content(markdown: str, closing: Sequence[Block]) -> dict[str, Any]:
    """Markdown as `markdown` (and table) blocks with `closing` under them, and a plain `text`
    fallback: for where `markdown_text` cannot go — beside blocks, or through a response_url,
    whose documented message fields are `text` and `blocks` only."""
    content: dict[str, Any] = {"blocks": [*text_blocks(markdown), *closing]}
    fallback = with_alerts(plain_text(markdown), closing, limit=SECTION_TEXT_LIMIT)
    return content | ({"text": fallback} if fallback else {})


def with_alerts(text: str, closing: Sequence[Block], *, limit: int) -> str:
    """`text` for notifications, with the alert's note (interrupted, failed) when it fits."""
    alerts = [plain_text(str(b["text"]["text"])) for b in closing if b.get("type") == "alert"]
    joined = "\n\n".join(part for part in (text, *alerts) if part.strip())
    return joined if len(joined) <= limit else text[:limit]


_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|~~|`+)(.+?)\1", re.DOTALL)
_MARKERS = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+(?=\S))", re.MULTILINE)


def plain_text(markdown: str) -> str:
    """Markdown as plain words, for notifications and screen readers (`text` beside blocks)."""
    text = re.sub(r"^\s*(```|~~~).*$\n?", "", markdown, flags=re.MULTILINE)
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    text = _EMPHASIS.sub(lambda m: m.group(2), text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])", r"\1", text)
    text = _MARKERS.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
