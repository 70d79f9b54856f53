"""Pure: a Slack message (text, markdown_text, blocks, stream chunks) → the page's HTML.

Slack renders three dialects: standard Markdown (`markdown_text`, `markdown` blocks), its own
mrkdwn (`text`, `mrkdwn` section text) and Block Kit. Everything that comes in is escaped first,
so nothing the agent or a person writes can inject markup into the page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt

Json = dict[str, Any]

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("strikethrough")
_LINK = re.compile(r"&lt;((?:https?://|mailto:)[^|&]+?)(?:\|(.*?))?&gt;")
_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)(?:\|[^&]*)?&gt;")
_CHANNEL = re.compile(r"&lt;#([CGD][A-Z0-9]+)(?:\|([^&]*))?&gt;")
_CODE_BLOCK = re.compile(r"```(.*?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_EMOJI = {"eyes": "👀", "white_check_mark": "✅", "x": "❌", "warning": "⚠️", "hourglass": "⏳"}
_EMOJI_CODE = re.compile(r":([a-z0-9_+-]+):")

NAMES = {"UBOT": "Bedrock Agent", "U0YOU": "you"}


def markdown_html(text: str) -> str:
    """Standard Markdown, as Slack renders `markdown_text`."""
    return str(_MARKDOWN.render(text)).strip()


def mrkdwn_html(text: str) -> str:
    """Slack mrkdwn (bold *x*, italic _x_, ~x~, `code`, <url|label>, <@U…>) → HTML."""
    escaped = html.escape(text, quote=False)
    pieces: list[str] = []
    last = 0
    for block in _CODE_BLOCK.finditer(escaped):
        pieces.append(_inline(escaped[last : block.start()]))
        pieces.append(f"<pre><code>{block.group(1).strip(chr(10))}</code></pre>")
        last = block.end()
    pieces.append(_inline(escaped[last:]))
    return "".join(pieces).strip()


def _inline(escaped: str) -> str:
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep_code, escaped)
    text = _LINK.sub(_link, text)
    text = _MENTION.sub(lambda m: f'<span class="mention">@{NAMES.get(m[1], m[1])}</span>', text)
    text = _CHANNEL.sub(lambda m: f'<span class="mention">#{m[2] or m[1]}</span>', text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    text = _STRIKE.sub(r"<del>\1</del>", text)
    text = _EMOJI_CODE.sub(lambda m: _EMOJI.get(m[1], m[0]), text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m[1])], text)
    return text.replace("\n", "<br>")


def _link(match: re.Match[str]) -> str:
    url, label = match.group(1), match.group(2) or match.group(1)
    return f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{label}</a>'


def text_object_html(obj: Json | None) -> str:
    if not obj:
        return ""
    text = str(obj.get("text") or "")
    return mrkdwn_html(text) if obj.get("type") == "mrkdwn" else html.escape(text)


def button_html(element: Json, block_id: str) -> str:
    label = html.escape(str((element.get("text") or {}).get("text") or "button"))
    attributes = {
        "data-action-id": element.get("action_id", ""),
        "data-block-id": block_id,
        "data-value": element.get("value", ""),
        "class": f"btn {element.get('style', '')}".strip(),
    }
    rendered = " ".join(f'{k}="{html.escape(str(v))}"' for k, v in attributes.items())
    return f'<button type="button" {rendered}>{label}</button>'


def blocks_html(blocks: Sequence[Json]) -> str:
    """Block Kit: section, markdown, context, actions, context_actions, header, divider, rich_text."""
    out: list[str] = []
    for block in blocks:
        kind, block_id = block.get("type"), str(block.get("block_id") or "")
        if kind == "section":
            fields = "".join(f"<div>{text_object_html(f)}</div>" for f in block.get("fields") or [])
            accessory = block.get("accessory") or {}
            button = button_html(accessory, block_id) if accessory.get("type") == "button" else ""
            body = text_object_html(block.get("text"))
            out.append(f'<div class="section">{body}{fields}{button}</div>')
        elif kind == "markdown":
            out.append(f'<div class="markdown">{markdown_html(str(block.get("text") or ""))}</div>')
        elif kind == "context":
            parts = [text_object_html(e) for e in block.get("elements") or [] if e.get("text")]
            out.append(f'<div class="context">{" ".join(parts)}</div>')
        elif kind == "actions":
            buttons = [
                button_html(e, block_id)
                for e in block.get("elements") or []
                if e.get("type") == "button"
            ]
            out.append(f'<div class="actions">{"".join(buttons)}</div>')
        elif kind == "context_actions":  # Slack's native 👍/👎 (feedback_buttons)
            buttons = [
                button_html({**e[side], "action_id": e.get("action_id", "")}, block_id)
                for e in block.get("elements") or []
                if e.get("type") == "feedback_buttons"
                for side in ("positive_button", "negative_button")
                if isinstance(e.get(side), dict)
            ]
            out.append(f'<div class="actions">{"".join(buttons)}</div>')
        elif kind == "header":
            out.append(f"<h4>{text_object_html(block.get('text'))}</h4>")
        elif kind == "divider":
            out.append("<hr>")
        elif kind == "rich_text":
            out.append(f"<div>{html.escape(_rich_text(block.get('elements') or []))}</div>")
    return "".join(out)


def _rich_text(elements: Sequence[Json]) -> str:
    parts: list[str] = []
    for element in elements:
        if "elements" in element:
            parts.append(_rich_text(element["elements"]))
        else:
            parts.append(str(element.get("text") or element.get("url") or ""))
    return "".join(parts)


def tasks_html(chunks: Sequence[Json]) -> str:
    """Stream `task_update` chunks as one card per task (latest status wins), in first order."""
    tasks: dict[str, Json] = {}
    plan = ""
    for chunk in chunks:
        if chunk.get("type") == "task_update":
            key = str(chunk.get("id") or chunk.get("title"))
            tasks[key] = {**tasks.get(key, {}), **chunk}
        elif chunk.get("type") == "plan_update":
            plan = str(chunk.get("title") or "")
    if not tasks and not plan:
        return ""
    icons = {"complete": "✅", "error": "❌", "in_progress": "⏳", "pending": "○"}
    rows = [
        f'<li class="task {html.escape(str(t.get("status")))}">'
        f"{icons.get(str(t.get('status')), '•')} {html.escape(str(t.get('title') or ''))}</li>"
        for t in tasks.values()
    ]
    title = f'<div class="plan-title">{html.escape(plan)}</div>' if plan else ""
    return f'<div class="tasks">{title}<ul>{"".join(rows)}</ul></div>'


def message_html(
    *, text: str, markdown_text: str, blocks: Sequence[Json], chunks: Sequence[Json], streamed: bool
) -> str:
    """What Slack shows for a message: a stream's Markdown with its closing blocks below it;
    otherwise the blocks when there are any (`text` is then only the notification fallback),
    else `markdown_text` or the mrkdwn `text`."""
    tasks = tasks_html(chunks)
    if streamed:
        body = markdown_html(markdown_text) if markdown_text else ""
        return tasks + body + blocks_html(blocks)
    if blocks:
        return tasks + blocks_html(blocks)
    if markdown_text:
        return tasks + markdown_html(markdown_text)
    return tasks + mrkdwn_html(text)
