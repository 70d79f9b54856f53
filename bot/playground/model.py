"""The playground's workspace, as values: who is who, and a message as Slack stores it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.playground.render import message_html

Json = dict[str, Any]

TEAM_ID = "T0PLAY"
BOT_USER_ID = "UBOT"
BOT_ID = "B0BOT"
USER_ID = "U0YOU"
CHANNEL_ID = "C0GENERAL"
DM_ID = "D0AGENT"
CHANNEL_NAME = "general"
BOT_NAME = "Bedrock Agent"
JSON_FIELDS = ("blocks", "chunks", "prompts", "view", "attachments", "metadata", "loading_messages")


class ApiError(Exception):
    """A Slack error answer, `{"ok": false, "error": code}`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Message:
    channel: str
    ts: str
    author: str  # "user" or "bot"
    thread_ts: str | None = None
    text: str = ""
    markdown_text: str = ""
    blocks: list[Json] = field(default_factory=list)
    chunks: list[Json] = field(default_factory=list)
    streaming: bool = False
    streamed: bool = False
    ephemeral: bool = False
    deleted: bool = False
    reactions: list[str] = field(default_factory=list)
    label: str = ""  # a line above ephemeral answers: which command they answer

    def page(self) -> Json:
        """The message as the page's feed carries it."""
        return {
            "channel": self.channel,
            "ts": self.ts,
            "thread_ts": self.thread_ts,
            "author": self.author,
            "html": message_html(
                text=self.text,
                markdown_text=self.markdown_text,
                blocks=self.blocks,
                chunks=self.chunks,
                streamed=self.streamed,
            ),
            "streaming": self.streaming,
            "ephemeral": self.ephemeral,
            "deleted": self.deleted,
            "reactions": list(self.reactions),
            "label": self.label,
        }

    def api(self) -> Json:
        """The message object Slack returns (conversations.replies, interactivity payloads)."""
        out: Json = {"type": "message", "ts": self.ts, "text": self.text or self.markdown_text}
        if self.author == "bot":
            out |= {"user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": "A0PLAY", "team": TEAM_ID}
        else:
            out |= {"user": USER_ID, "team": TEAM_ID}
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.blocks:
            out["blocks"] = self.blocks
        return out


@dataclass(frozen=True, slots=True)
class ResponseTarget:
    """Where a response_url's messages go, and the line that says what they answer."""

    channel: str
    thread_ts: str | None = None
    label: str = ""


def text_arg(args: Json, name: str) -> str:
    value = args.get(name)
    return "" if value is None else str(value)


def stream_pieces(args: Json) -> tuple[str, list[Json]]:
    """A stream call's Markdown (`markdown_text` and markdown chunks) and its other chunks."""
    chunks = args.get("chunks") or []
    if not isinstance(chunks, list) or not all(isinstance(c, dict) for c in chunks):
        raise ApiError("invalid_arguments")
    texts = [str(c.get("text") or "") for c in chunks if c.get("type") == "markdown_text"]
    others = [c for c in chunks if c.get("type") != "markdown_text"]
    return text_arg(args, "markdown_text") + "".join(texts), others


def blocks_arg(value: Any) -> list[Json]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError("invalid_blocks") from None
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise ApiError("invalid_blocks")
    return value
