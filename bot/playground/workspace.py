"""The playground's one Slack workspace: its messages and the Web API methods the bot calls.

A compact, page-oriented cousin of the test suite's fake Slack: every write the bot makes is
applied the way Slack applies it and published on the page's feed. No HTTP here (see server.py).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.playground.feed import Feed
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


class Workspace:
    """Messages by (channel, ts); statuses and prompts by thread; all changes go to `feed`."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.messages: dict[tuple[str, str], Message] = {}
        self.statuses: dict[tuple[str, str], str] = {}
        self.prompts: dict[tuple[str, str], Json] = {}
        self.titles: dict[tuple[str, str], str] = {}
        self.responses: dict[str, ResponseTarget] = {}
        self.replaces: dict[str, str] = {}  # response_url key -> ts of the message it replaces
        self._ts = itertools.count(1)
        self._methods: dict[str, Callable[[Json], Json]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "reactions.add": self._reaction_add,
            "reactions.remove": self._reaction_remove,
            "assistant.threads.setStatus": self._set_status,
            "assistant.threads.setSuggestedPrompts": self._set_prompts,
            "assistant.threads.setTitle": self._set_title,
            "conversations.replies": self._replies,
            "views.publish": lambda args: {"ok": True, "view": args.get("view") or {}},
            "users.info": self._user_info,
        }

    # -- what the page and the server use ------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh, strictly increasing Slack ts."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def post_user_message(self, channel: str, text: str, thread_ts: str | None) -> Message:
        message = Message(channel, self.next_ts(), "user", thread_ts=thread_ts, text=text)
        self._store(message)
        return message

    def add_response_url(self, target: ResponseTarget, *, replaces: str | None = None) -> str:
        """A response_url for `target`; `replaces` is the message `replace_original` edits."""
        key = f"r{len(self.responses) + 1}"
        self.responses[key] = target
        if replaces:
            self.replaces[key] = replaces
        return key

    def respond(self, key: str, body: Json) -> Message:
        """A slash command's ack body or a response_url post; ephemeral unless `in_channel`."""
        target = self.responses[key]
        text, blocks = str(body.get("text") or ""), _blocks(body.get("blocks"))
        old = self.messages.get((target.channel, self.replaces.get(key, "")))
        if old is not None and not old.deleted and body.get("delete_original"):
            old.deleted = True
            self._changed(old)
            return old
        if old is not None and not old.deleted and body.get("replace_original"):
            old.text, old.markdown_text, old.blocks = text, "", blocks
            self._changed(old)
            return old
        ephemeral = body.get("response_type", "ephemeral") != "in_channel"
        message = Message(
            target.channel,
            self.next_ts(),
            "bot",
            thread_ts=target.thread_ts,
            text=text,
            blocks=blocks,
            ephemeral=ephemeral,
            label=target.label if ephemeral else "",
        )
        self._store(message)
        self.replaces.setdefault(key, message.ts)  # a command's later posts replace its ack
        return message

    def call(self, method: str, args: Json) -> Json:
        """Answer one Web API call as Slack would; raises ApiError."""
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        for name in JSON_FIELDS:
            value = args.get(name)
            if isinstance(value, str) and value.strip():
                try:
                    args[name] = json.loads(value)
                except ValueError:
                    raise ApiError("invalid_arguments") from None
        return handler(args)

    def snapshot(self) -> list[tuple[str, Json]]:
        """Everything the page shows, as feed events, for a page that (re)connects."""
        events: list[tuple[str, Json]] = [("message", m.page()) for m in self.messages.values()]
        events += [
            ("status", {"channel": c, "thread_ts": t, "status": s})
            for (c, t), s in self.statuses.items()
        ]
        events += [
            ("prompts", {"channel": c, "thread_ts": t} | p) for (c, t), p in self.prompts.items()
        ]
        return events

    # -- internals -----------------------------------------------------------------------------

    def _store(self, message: Message) -> None:
        self.messages[(message.channel, message.ts)] = message
        self.feed.publish("message", message.page())

    def _changed(self, message: Message) -> None:
        self.feed.publish("message", message.page())

    def _own(self, args: Json) -> Message:
        message = self.messages.get((_str(args, "channel"), _str(args, "ts")))
        if message is None or message.deleted or message.author != "bot" or message.ephemeral:
            raise ApiError("message_not_found")
        return message

    def _bot_message(self, args: Json, **extra: Any) -> Message:
        channel = _str(args, "channel")
        if channel not in (CHANNEL_ID, DM_ID):
            raise ApiError("channel_not_found")
        text, markdown = _str(args, "text"), _str(args, "markdown_text")
        blocks = _blocks(args.get("blocks"))
        if not (text or markdown or blocks or extra.get("streaming")):
            raise ApiError("no_text")
        thread_ts = _str(args, "thread_ts") or None
        message = Message(
            channel, self.next_ts(), "bot", thread_ts, text, markdown, blocks, **extra
        )
        self._store(message)
        if thread_ts and not message.ephemeral:
            self._clear_status(channel, thread_ts)  # Slack clears the status when the bot replies
        return message

    def _clear_status(self, channel: str, thread_ts: str) -> None:
        if self.statuses.get((channel, thread_ts)):
            self.statuses[(channel, thread_ts)] = ""
            self.feed.publish("status", {"channel": channel, "thread_ts": thread_ts, "status": ""})

    # -- Web API methods -----------------------------------------------------------------------

    def _auth_test(self, _: Json) -> Json:
        return {
            "ok": True,
            "url": "https://playground.slack.invalid/",
            "team": "Playground",
            "user": "bedrock-agent",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: Json) -> Json:
        message = self._bot_message(args)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": message.api()}

    def _post_ephemeral(self, args: Json) -> Json:
        message = self._bot_message(args, ephemeral=True)
        return {"ok": True, "message_ts": message.ts}

    def _update(self, args: Json) -> Json:
        message = self._own(args)
        if message.streaming:
            raise ApiError("streaming_state_conflict")
        text, markdown = _str(args, "text"), _str(args, "markdown_text")
        blocks = args.get("blocks")
        if not (text or markdown or blocks):
            raise ApiError("no_text")
        message.text, message.markdown_text, message.streamed = text, markdown, False
        if blocks is not None:  # Slack keeps the blocks when none are given
            message.blocks = _blocks(blocks)
        self._changed(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": text}

    def _delete(self, args: Json) -> Json:
        message = self._own(args)
        message.deleted = True
        self._changed(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _start_stream(self, args: Json) -> Json:
        if not _str(args, "thread_ts"):
            raise ApiError("invalid_arguments")
        markdown, chunks = _stream_pieces(args)
        message = self._bot_message(
            args | {"markdown_text": markdown}, streaming=True, streamed=True, chunks=chunks
        )
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _append_stream(self, args: Json) -> Json:
        message = self._streaming(args)
        self._stream_into(message, args)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _stop_stream(self, args: Json) -> Json:
        message = self._streaming(args)
        message.streaming = False
        if args.get("blocks") is not None:
            message.blocks = _blocks(args.get("blocks"))
        self._stream_into(message, args)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": message.api()}

    def _streaming(self, args: Json) -> Message:
        message = self._own(args)
        if not message.streaming:
            raise ApiError("message_not_in_streaming_state")
        return message

    def _stream_into(self, message: Message, args: Json) -> None:
        markdown, chunks = _stream_pieces(args)
        message.markdown_text += markdown
        message.chunks.extend(chunks)
        self._changed(message)

    def _reaction_target(self, args: Json) -> tuple[Message, str]:
        message = self.messages.get((_str(args, "channel"), _str(args, "timestamp")))
        if message is None or message.deleted:
            raise ApiError("message_not_found")
        return message, _str(args, "name").strip(":")

    def _reaction_add(self, args: Json) -> Json:
        message, name = self._reaction_target(args)
        if name in message.reactions:
            raise ApiError("already_reacted")
        message.reactions.append(name)
        self._changed(message)
        return {"ok": True}

    def _reaction_remove(self, args: Json) -> Json:
        message, name = self._reaction_target(args)
        if name not in message.reactions:
            raise ApiError("no_reaction")
        message.reactions.remove(name)
        self._changed(message)
        return {"ok": True}

    def _set_status(self, args: Json) -> Json:
        channel, thread_ts = _str(args, "channel_id"), _str(args, "thread_ts")
        if not channel or not thread_ts:
            raise ApiError("invalid_arguments")
        status = _str(args, "status")
        loading = args.get("loading_messages")
        if status and isinstance(loading, list) and loading:
            status = str(loading[0])  # Slack rotates these in place of the status; show one
        self.statuses[(channel, thread_ts)] = status
        self.feed.publish("status", {"channel": channel, "thread_ts": thread_ts, "status": status})
        return {"ok": True}

    def _set_prompts(self, args: Json) -> Json:
        prompts = args.get("prompts")
        if not _str(args, "channel_id") or not isinstance(prompts, list):
            raise ApiError("invalid_arguments")
        key = (_str(args, "channel_id"), _str(args, "thread_ts"))
        self.prompts[key] = {"title": _str(args, "title"), "prompts": prompts}
        self.feed.publish("prompts", {"channel": key[0], "thread_ts": key[1]} | self.prompts[key])
        return {"ok": True}

    def _set_title(self, args: Json) -> Json:
        self.titles[(_str(args, "channel_id"), _str(args, "thread_ts"))] = _str(args, "title")
        return {"ok": True}

    def _replies(self, args: Json) -> Json:
        channel, ts = _str(args, "channel"), _str(args, "ts")
        found = [
            m.api()
            for m in self.messages.values()
            if m.channel == channel
            and (m.ts == ts or m.thread_ts == ts)
            and not (m.deleted or m.ephemeral)
        ]
        return {"ok": True, "messages": found, "has_more": False}

    def _user_info(self, args: Json) -> Json:
        user = _str(args, "user")
        name = BOT_NAME if user == BOT_USER_ID else "you"
        profile = {"display_name": name, "real_name": name}
        return {
            "ok": True,
            "user": {"id": user, "team_id": TEAM_ID, "name": name, "profile": profile},
        }


def _str(args: Json, name: str) -> str:
    value = args.get(name)
    return "" if value is None else str(value)


def _stream_pieces(args: Json) -> tuple[str, list[Json]]:
    """A stream call's Markdown (`markdown_text` and markdown chunks) and its other chunks."""
    chunks = args.get("chunks") or []
    if not isinstance(chunks, list) or not all(isinstance(c, dict) for c in chunks):
        raise ApiError("invalid_arguments")
    texts = [str(c.get("text") or "") for c in chunks if c.get("type") == "markdown_text"]
    others = [c for c in chunks if c.get("type") != "markdown_text"]
    return _str(args, "markdown_text") + "".join(texts), others


def _blocks(value: Any) -> list[Json]:
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
