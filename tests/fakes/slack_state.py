"""Workspace state and Web API semantics behind `FakeSlack` (no HTTP in this module).

Every `_m_*` handler takes the decoded request arguments and returns the JSON answer Slack
would give, or raises `SlackError` with the error code Slack documents for that case.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from bot.playground.slack_rules import auth_test, decode_json_fields, react

Json = dict[str, Any]

URL = "https://fake-workspace.slack.com/"  # the workspace's address, as auth.test reports it
MAX_TEXT = 40_000  # chat.postMessage / chat.postEphemeral `text`
MAX_UPDATE_TEXT = 4_000  # chat.update `text` (real Slack truncates; the fake refuses)
MAX_MARKDOWN = 12_000  # `markdown_text` and each markdown_text chunk, in every method

# Fields that Slack accepts as JSON-encoded strings in form bodies.
JSON_FIELDS = ("blocks", "chunks", "attachments", "prompts", "view", "metadata")


class SlackError(Exception):
    """An error answer: HTTP `status` with `{"ok": false, "error": error}`."""

    def __init__(self, error: str, *, status: int = 200, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.detail = detail

    def body(self) -> Json:
        """The JSON body Slack sends for this error."""
        body: Json = {"ok": False, "error": self.error}
        if self.detail:
            body["response_metadata"] = {"messages": [f"[ERROR] {self.detail}"]}
        return body


@dataclass(frozen=True)
class Call:
    """One request the fake answered (auth failures, faults and 429s included)."""

    method: str
    args: Json
    at: float
    response: Json
    status: int
    token: str = ""  # the token the call was made with (OAuth mode: which workspace spoke)

    @property
    def ok(self) -> bool:
        """Whether Slack answered `ok: true`."""
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """The error code, if any."""
        return self.response.get("error")


@dataclass
class Message:
    """A message as Slack stores it; `visible` is what a user sees."""

    channel: str
    ts: str
    thread_ts: str | None = None
    text: str = ""
    markdown_text: str = ""  # given markdown_text, or everything streamed so far
    blocks: list[Json] = field(default_factory=list)
    streaming: bool = False  # open stream: appendStream/stopStream accepted
    streamed: bool = False  # created by chat.startStream and not replaced by chat.update since
    expired: bool = False  # closed by `FakeSlack.expire_stream`, not by stopStream
    deleted: bool = False
    ephemeral_user: str | None = None
    user: str = ""
    chunks: list[Json] = field(default_factory=list)  # every chunk streamed, in order
    versions: list[str] = field(default_factory=list)  # each distinct visible text, in order
    reactions: list[str] = field(default_factory=list)  # reaction names the bot has on it
    task_display_mode: str = "timeline"

    @property
    def tasks(self) -> list[Json]:
        """The task cards shown now: each task's latest update, in first-seen order."""
        latest: dict[str, Json] = {}
        for chunk in self.chunks:
            if chunk.get("type") == "task_update":
                latest[str(chunk["id"])] = {**latest.get(str(chunk["id"]), {}), **chunk}
        return list(latest.values())

    @property
    def visible(self) -> str:
        """What Slack renders: a stream's markdown (its closing blocks below it); otherwise the
        blocks when they hold text (`text` is then only the notification fallback), else
        markdown_text or text."""
        in_blocks = blocks_text(self.blocks)
        if self.streamed:
            # Blocks under a stream (alerts, sources) read as a paragraph of their own.
            return "\n\n".join(part for part in (self.markdown_text, in_blocks) if part)
        return in_blocks or self.markdown_text or self.text

    def snapshot(self) -> None:
        """Record the visible text in `versions` if it changed."""
        if self.visible != (self.versions[-1] if self.versions else ""):
            self.versions.append(self.visible)

    def to_api(self, *, bot_id: str, team_id: str) -> Json:
        """The message object Slack returns in API answers."""
        out: Json = {"type": "message", "user": self.user, "text": self.visible, "ts": self.ts}
        out |= {"bot_id": bot_id, "app_id": "A0001", "team": team_id}
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.blocks:
            out["blocks"] = self.blocks
        return out


def blocks_text(blocks: list[Json]) -> str:
    """Text of section, context, markdown and rich_text blocks, one line per block."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            parts = [block.get("text") or {}, *(block.get("fields") or [])]
            lines.extend(p.get("text", "") for p in parts if p.get("text"))
        elif kind == "context":
            parts = block.get("elements") or []
            lines.append(" ".join(str(p.get("text", "")) for p in parts if p.get("text")))
        elif kind == "markdown" and block.get("text"):
            lines.append(str(block["text"]))
        elif kind == "alert":
            lines.append(str((block.get("text") or {}).get("text", "")))
        elif kind == "table":
            for row in block.get("rows") or []:
                lines.append(" | ".join(str(cell.get("text", "")) for cell in row))
        elif kind == "rich_text":
            lines.append(_rich_text(block.get("elements") or []))
    return "\n".join(line for line in lines if line)


def _rich_text(elements: list[Json]) -> str:
    out: list[str] = []
    for el in elements:
        kind = el.get("type")
        if kind in ("text", "link"):
            out.append(el.get("text") or el.get("url", ""))
        elif kind == "emoji":
            out.append(f":{el.get('name', '')}:")
        elif kind == "user":
            out.append(f"<@{el.get('user_id', '')}>")
        elif kind == "channel":
            out.append(f"<#{el.get('channel_id', '')}>")
        elif "elements" in el:
            sep = "\n" if kind == "rich_text_list" else ""
            out.append(_rich_text(el["elements"]) + sep)
    return "".join(out).rstrip("\n")


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for Slack timestamps (exact, unlike float)."""
    sec, _, micro = ts.partition(".")
    return int(sec or 0), int(micro or 0)


def _require(args: Json, *names: str) -> None:
    for name in names:
        if args.get(name) in (None, ""):
            if name in ("channel", "channel_id"):
                raise SlackError("channel_not_found")
            raise SlackError("invalid_arguments", detail=f"missing required field: {name}")


def _str(args: Json, name: str) -> str:
    value = args.get(name)
    return "" if value is None else str(value)


def _markdown_pieces(args: Json) -> tuple[list[str], list[Json]]:
    """Validated markdown_text + chunks of a stream call: (texts to append, chunks)."""
    texts = [_str(args, "markdown_text")] if args.get("markdown_text") else []
    chunks = args.get("chunks") or []
    if not isinstance(chunks, list) or not all(isinstance(c, dict) and "type" in c for c in chunks):
        raise SlackError("invalid_arguments", detail="chunks must be an array of chunk objects")
    texts += [str(c.get("text", "")) for c in chunks if c["type"] == "markdown_text"]
    if any(len(t) > MAX_MARKDOWN for t in texts):
        raise SlackError("msg_too_long")
    for chunk in chunks:
        _check_chunk(chunk)
    return texts, chunks


MAX_BLOCKS = 50  # blocks per message (docs.slack.dev/reference/block-kit/blocks)


def validate_blocks(blocks: Any) -> None:
    """Refuse what Slack refuses: not a list of objects, too many, an unknown type, or a block
    slack_sdk.models cannot build or validate (missing fields, limits, bad values)."""
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise SlackError("invalid_blocks", detail="blocks must be an array of objects")
    if len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks", detail=f"no more than {MAX_BLOCKS} items allowed")
    for index, raw in enumerate(blocks):
        try:
            block = Block.parse(dict(raw))
            if block is None:
                raise SlackError("invalid_blocks", detail=f"unknown block type at [{index}]")
            block.to_dict()  # runs every validator, nested elements included
        except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as err:
            raise SlackError("invalid_blocks", detail=f"block [{index}]: {err}") from None


def _in_window(ts: str, args: Json) -> bool:
    """conversations.replies' `oldest` / `latest` bounds; `inclusive` keeps the bounds too."""
    inclusive = str(args.get("inclusive", "")).lower() in {"1", "true"}
    key = ts_key(ts)
    if args.get("latest"):
        latest = ts_key(_str(args, "latest"))
        if key > latest or (key == latest and not inclusive):
            return False
    if args.get("oldest"):
        oldest = ts_key(_str(args, "oldest"))
        if key < oldest or (key == oldest and not inclusive):
            return False
    return True


def _page(messages: list[Json], args: Json, *, max_limit: int) -> Json:
    """One cursor page, oldest first, as Slack paginates: `limit` capped, `next_cursor` opaque."""
    try:
        limit = int(args.get("limit") or max_limit)
        start = int(
            base64.b64decode(_str(args, "cursor"), validate=True).decode().removeprefix("off:") or 0
        )
    except (ValueError, binascii.Error):
        raise SlackError("invalid_cursor") from None
    limit = max(1, min(limit, max_limit))
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    cursor = base64.b64encode(f"off:{start + limit}".encode()).decode() if more else ""
    out: Json = {"ok": True, "messages": page, "has_more": more}
    return out | {"response_metadata": {"next_cursor": cursor}}


CHUNK_TYPES = frozenset({"markdown_text", "task_update", "plan_update", "blocks"})
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
TASK_DISPLAY_MODES = frozenset({"timeline", "plan"})


def _check_chunk(chunk: Json) -> None:
    """Chunk shapes as slack_sdk.models.messages.chunk and Slack's streaming docs define them."""
    kind = chunk["type"]
    if kind not in CHUNK_TYPES:
        raise SlackError("invalid_arguments", detail=f"unknown chunk type {kind}")
    if kind == "markdown_text" and not isinstance(chunk.get("text"), str):
        raise SlackError("invalid_arguments", detail="markdown_text chunk needs text")
    if kind != "task_update":
        return
    if not (isinstance(chunk.get("id"), str) and chunk["id"]):
        raise SlackError("invalid_arguments", detail="task_update chunk needs an id")
    if not (isinstance(chunk.get("title"), str) and chunk["title"].strip()):
        raise SlackError("invalid_arguments", detail="task_update chunk needs a title")
    if chunk.get("status") not in TASK_STATUSES:
        raise SlackError("invalid_arguments", detail="task_update status is not valid")
    for source in chunk.get("sources") or []:
        if not (
            isinstance(source, dict)
            and source.get("type") == "url"
            and str(source.get("url", "")).startswith(("https://", "http://"))
            and source.get("text")
        ):
            raise SlackError("invalid_arguments", detail="task_update sources are url elements")


class SlackState:
    """Messages, threads and assistant state of one fake workspace."""

    def __init__(self, *, team_id: str, bot_user_id: str, bot_id: str) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        # The bot user of the workspace whose OAuth token makes the current call (its messages
        # are that bot's, as in Slack); None: the single-workspace bot.
        self.speaker: str | None = None
        self.messages: dict[tuple[str, str], Message] = {}
        self.user_messages: dict[tuple[str, str], Message] = {}  # reaction targets not posted by us
        self.replies: dict[tuple[str, str], list[Json]] = {}
        self.users: dict[str, Json] = {}  # users.info overrides, merged into the default profile
        self.statuses: dict[tuple[str, str], list[str]] = {}  # every setStatus call, in order
        self.titles: dict[tuple[str, str], str] = {}
        self.loading_messages: dict[tuple[str, str], list[str]] = {}  # the latest setStatus's
        self.suggested_prompts: dict[tuple[str, str], Json] = {}
        self.views: dict[str, Json] = {}  # user_id -> last published view
        self.streaming_enabled = True
        self.streaming_error = "unknown_method"  # chat.startStream error when streaming is off
        self.require_recipient = True  # streams outside DMs need recipient_team_id/user_id
        # conversations.replies' `limit` cap: 1,000 here; 15 for apps distributed outside the
        # Marketplace since 2025-05-29 (docs.slack.dev/reference/methods/conversations.replies).
        self.replies_max_limit = 1_000
        self._shown_status: dict[tuple[str, str], str] = {}
        self._ts_counter = 0
        self._handlers: dict[str, Callable[[Json], Json]] = {
            name[3:].replace("__", "."): getattr(self, name)
            for name in dir(self)
            if name.startswith("_m_")
        }

    # -- queries for tests -------------------------------------------------------------------

    def thread(
        self, channel: str, thread_ts: str, *, include_ephemeral: bool = False
    ) -> list[Message]:
        """Bot messages posted in that thread and not deleted, in ts order."""
        found = [
            m
            for m in self.messages.values()
            if m.channel == channel
            and m.thread_ts == thread_ts
            and not m.deleted
            and (include_ephemeral or m.ephemeral_user is None)
        ]
        return sorted(found, key=lambda m: ts_key(m.ts))

    def status(self, channel: str, thread_ts: str) -> str:
        """The assistant status shown now (Slack clears it when the bot replies)."""
        return self._shown_status.get((channel, thread_ts), "")

    def reactions_on(self, channel: str, ts: str) -> list[str]:
        """Reaction names the bot has on any message (its own or a user's)."""
        msg = self.messages.get((channel, ts)) or self.user_messages.get((channel, ts))
        return list(msg.reactions) if msg else []

    def knows(self, method: str) -> bool:
        """Whether the fake implements `method`."""
        return method in self._handlers

    def handle(self, method: str, args: Json) -> Json:
        """Answer one Web API call, or raise `SlackError`."""
        handler = self._handlers.get(method)
        if handler is None:
            raise SlackError("unknown_method")
        if (bad := decode_json_fields(args, JSON_FIELDS)) is not None:
            code = "invalid_blocks_format" if bad == "blocks" else "invalid_arguments"
            raise SlackError(code, detail=f"{bad} is not valid JSON")
        return handler(args)

    # -- helpers -----------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh, strictly increasing ts like "1700000000.000100"."""
        self._ts_counter += 1
        micros = self._ts_counter * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _api(self, msg: Message) -> Json:
        return msg.to_api(bot_id=self.bot_id, team_id=self.team_id)

    def _own(self, args: Json) -> Message:
        _require(args, "channel", "ts")
        msg = self.messages.get((_str(args, "channel"), _str(args, "ts")))
        if msg is None or msg.deleted or msg.ephemeral_user:
            raise SlackError("message_not_found")
        return msg

    def _content(self, args: Json, *, text_limit: int) -> tuple[str, str, list[Json] | None]:
        text, markdown = _str(args, "text"), _str(args, "markdown_text")
        blocks = args.get("blocks")
        if blocks is not None:
            validate_blocks(blocks)
        if markdown and (text or blocks):
            raise SlackError("markdown_text_conflict")
        if not (text or markdown or blocks or args.get("attachments")):
            raise SlackError("no_text")
        if len(text) > text_limit or len(markdown) > MAX_MARKDOWN:
            raise SlackError("msg_too_long")
        return text, markdown, blocks

    def _post(self, args: Json, *, ephemeral_user: str | None = None) -> Message:
        _require(args, "channel")
        text, markdown, blocks = self._content(args, text_limit=MAX_TEXT)
        msg = Message(
            channel=_str(args, "channel"),
            ts=self.next_ts(),
            thread_ts=_str(args, "thread_ts") or None,
            text=text,
            markdown_text=markdown,
            blocks=blocks or [],
            ephemeral_user=ephemeral_user,
            user=self.speaker or self.bot_user_id,
        )
        msg.snapshot()
        self.messages[(msg.channel, msg.ts)] = msg
        if msg.thread_ts and not ephemeral_user:
            self._shown_status.pop((msg.channel, msg.thread_ts), None)
        return msg

    def _open_stream(self, args: Json) -> Message:
        msg = self._own(args)
        if not msg.streaming:
            raise SlackError("message_not_in_streaming_state")
        return msg

    @staticmethod
    def _stream_into(msg: Message, args: Json) -> None:
        texts, chunks = _markdown_pieces(args)
        msg.markdown_text += "".join(texts)
        msg.chunks.extend(chunks)

    # -- Web API methods ---------------------------------------------------------------------

    def _m_auth__test(self, args: Json) -> Json:
        ids = (self.team_id, self.bot_user_id, self.bot_id)
        return auth_test(*ids, team="Fake Workspace", user="bot", url=URL)

    def _m_chat__postMessage(self, args: Json) -> Json:
        msg = self._post(args)
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "message": self._api(msg)}

    def _m_chat__postEphemeral(self, args: Json) -> Json:
        _require(args, "channel", "user")
        msg = self._post(args, ephemeral_user=_str(args, "user"))
        return {"ok": True, "message_ts": msg.ts}

    def _m_chat__update(self, args: Json) -> Json:
        msg = self._own(args)
        if msg.streaming:
            raise SlackError("streaming_state_conflict")
        text, markdown, blocks = self._content(args, text_limit=MAX_UPDATE_TEXT)
        msg.text, msg.markdown_text, msg.streamed = text, markdown, False
        # The update replaces the message's content: `text` (or markdown_text) alone leaves it
        # without the blocks it had, buttons included.
        msg.blocks = blocks or []
        msg.snapshot()
        out = {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.visible}
        return out | {"message": self._api(msg)}

    def _m_chat__delete(self, args: Json) -> Json:
        msg = self._own(args)
        if msg.streaming:
            raise SlackError("cant_delete_message")
        msg.deleted = True
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _m_chat__startStream(self, args: Json) -> Json:
        if not self.streaming_enabled:
            raise SlackError(self.streaming_error)
        _require(args, "channel", "thread_ts")
        channel = _str(args, "channel")
        if self.require_recipient and not channel.startswith("D"):
            for name in ("recipient_team_id", "recipient_user_id"):
                if not args.get(name):
                    raise SlackError(f"missing_{name}")
        mode = _str(args, "task_display_mode") or "timeline"
        if mode not in TASK_DISPLAY_MODES:
            raise SlackError("invalid_arguments", detail="task_display_mode is timeline or plan")
        msg = Message(
            channel=channel,
            ts=self.next_ts(),
            thread_ts=_str(args, "thread_ts"),
            streaming=True,
            streamed=True,
            user=self.speaker or self.bot_user_id,
            task_display_mode=mode,
        )
        self._stream_into(msg, args)
        msg.snapshot()
        self.messages[(msg.channel, msg.ts)] = msg
        self._shown_status.pop((channel, _str(args, "thread_ts")), None)
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _m_chat__appendStream(self, args: Json) -> Json:
        msg = self._open_stream(args)
        if not (args.get("markdown_text") or args.get("chunks")):
            raise SlackError("invalid_arguments", detail="markdown_text or chunks is required")
        self._stream_into(msg, args)
        msg.snapshot()
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _m_chat__stopStream(self, args: Json) -> Json:
        msg = self._open_stream(args)
        self._stream_into(msg, args)
        blocks = args.get("blocks")
        if blocks is not None:
            validate_blocks(blocks)
            msg.blocks = blocks
        msg.streaming = False
        msg.snapshot()
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "message": self._api(msg)}

    def _react(self, args: Json, *, add: bool) -> Json:
        """reactions.add (`add`) or reactions.remove, on a bot message or a user's."""
        _require(args, "channel", "timestamp", "name")
        key = (_str(args, "channel"), _str(args, "timestamp"))
        msg = self.messages.get(key)
        if msg is not None and (msg.deleted or msg.ephemeral_user):
            raise SlackError("message_not_found")
        if msg is None:
            msg = self.user_messages.setdefault(key, Message(channel=key[0], ts=key[1]))
        if error := react(msg.reactions, _str(args, "name").strip(":"), add=add):
            raise SlackError(error)
        return {"ok": True}

    def _m_reactions__add(self, args: Json) -> Json:
        return self._react(args, add=True)

    def _m_reactions__remove(self, args: Json) -> Json:
        return self._react(args, add=False)

    def _m_assistant__threads__setStatus(self, args: Json) -> Json:
        _require(args, "channel_id", "thread_ts")
        if "status" not in args:  # "" is allowed: it clears the status
            raise SlackError("invalid_arguments", detail="missing required field: status")
        loading = args.get("loading_messages")
        if loading is not None and not (
            isinstance(loading, list)
            and len(loading) <= 10
            and all(isinstance(m, str) for m in loading)
        ):  # docs.slack.dev: "The list of messages to rotate through … Maximum of 10 messages."
            raise SlackError("invalid_arguments", detail="loading_messages: at most 10 strings")
        key = (_str(args, "channel_id"), _str(args, "thread_ts"))
        self.statuses.setdefault(key, []).append(_str(args, "status"))
        self.loading_messages[key] = list(loading or [])
        self._shown_status[key] = _str(args, "status")
        return {"ok": True}

    def _m_assistant__threads__setSuggestedPrompts(self, args: Json) -> Json:
        _require(args, "channel_id", "prompts")
        prompts = args["prompts"]
        if not isinstance(prompts, list) or not 0 < len(prompts) <= 4:
            # "Use this method to set up to four suggested prompts"
            raise SlackError("invalid_arguments", detail="prompts must be an array of 1 to 4")
        if not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
            raise SlackError("invalid_arguments", detail="each prompt needs a title and a message")
        key = (_str(args, "channel_id"), _str(args, "thread_ts"))
        self.suggested_prompts[key] = {"title": _str(args, "title"), "prompts": prompts}
        return {"ok": True}

    def _m_assistant__threads__setTitle(self, args: Json) -> Json:
        _require(args, "channel_id", "thread_ts", "title")
        self.titles[(_str(args, "channel_id"), _str(args, "thread_ts"))] = _str(args, "title")
        return {"ok": True}

    def _m_conversations__replies(self, args: Json) -> Json:
        _require(args, "channel", "ts")
        channel, ts = _str(args, "channel"), _str(args, "ts")
        by_ts = {
            m.ts: self._api(m)
            for m in self.messages.values()
            if m.channel == channel
            and (m.thread_ts == ts or m.ts == ts)
            and not (m.deleted or m.ephemeral_user)
        }
        by_ts.update({str(m.get("ts", "")): m for m in self.replies.get((channel, ts), [])})
        messages = [by_ts[k] for k in sorted(by_ts, key=ts_key) if _in_window(k, args)]
        return _page(messages, args, max_limit=self.replies_max_limit)

    def _m_conversations__history(self, args: Json) -> Json:
        """A channel's top-level messages (thread parents, not replies), newest first."""
        _require(args, "channel")
        channel = _str(args, "channel")
        found = [
            self._api(m)
            for m in self.messages.values()
            if m.channel == channel
            and m.thread_ts in (None, m.ts)
            and not (m.deleted or m.ephemeral_user)
            and _in_window(m.ts, args)
        ]
        newest_first = sorted(found, key=lambda m: ts_key(str(m["ts"])), reverse=True)
        return _page(newest_first, args, max_limit=999)

    def _m_views__publish(self, args: Json) -> Json:
        _require(args, "user_id", "view")
        view = args["view"]
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", detail="view must be an object")
        user_id = _str(args, "user_id")
        self.views[user_id] = view
        published = {"id": f"V{user_id}", "team_id": self.team_id, "hash": self.next_ts()}
        return {"ok": True, "view": view | published}

    def _m_users__info(self, args: Json) -> Json:
        _require(args, "user")
        user_id = _str(args, "user")
        user: Json = {
            "id": user_id,
            "team_id": self.team_id,
            "name": user_id.lower(),
            "real_name": f"User {user_id}",
            "is_bot": user_id == self.bot_user_id,
            "deleted": False,
            "tz": "Europe/London",
            "tz_offset": 0,
            "profile": {"display_name": user_id.lower(), "real_name": f"User {user_id}"},
        }
        return {"ok": True, "user": user | self.users.get(user_id, {})}
