"""The Slack Web API methods the bot calls, applied to the playground's workspace as Slack
applies them (errors included), every change published on the page's feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.playground.model import (
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    CHANNEL_ID,
    DM_ID,
    JSON_FIELDS,
    TEAM_ID,
    ApiError,
    Json,
    Message,
    blocks_arg,
    stream_pieces,
    text_arg,
)
from bot.playground.slack_rules import auth_test, decode_json_fields, react

if TYPE_CHECKING:
    from bot.playground.workspace import Workspace

URL = "https://playground.slack.invalid/"  # the workspace's address, as auth.test reports it


class SlackMethods:
    """`call(method, args)` answers one Web API call, or raises ApiError."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self._methods: dict[str, Callable[[Json], Json]] = {
            "auth.test": lambda _: auth_test(
                TEAM_ID, BOT_USER_ID, BOT_ID, team="Playground", user="bedrock-agent", url=URL
            ),
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "reactions.add": lambda args: self._react(args, add=True),
            "reactions.remove": lambda args: self._react(args, add=False),
            "assistant.threads.setStatus": self._set_status,
            "assistant.threads.setSuggestedPrompts": self._set_prompts,
            "assistant.threads.setTitle": self._set_title,
            "conversations.replies": self._replies,
            "views.publish": lambda args: {"ok": True, "view": args.get("view") or {}},
            "users.info": self._user_info,
        }

    def call(self, method: str, args: Json) -> Json:
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        if decode_json_fields(args, JSON_FIELDS) is not None:
            raise ApiError("invalid_arguments")
        return handler(args)

    def _post_message(self, args: Json) -> Json:
        message = self._bot_message(args)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": message.api()}

    def _post_ephemeral(self, args: Json) -> Json:
        message = self._bot_message(args, ephemeral=True)
        return {"ok": True, "message_ts": message.ts}

    def _own(self, args: Json) -> Message:
        """The bot's own (not ephemeral) message that `channel` and `ts` name."""
        message = self._ws.messages.get((text_arg(args, "channel"), text_arg(args, "ts")))
        if message is None or message.deleted or message.author != "bot" or message.ephemeral:
            raise ApiError("message_not_found")
        return message

    def _bot_message(self, args: Json, **extra: Any) -> Message:
        """Post the bot's message that `args` describe, as chat.postMessage checks them."""
        channel = text_arg(args, "channel")
        if channel not in (CHANNEL_ID, DM_ID):
            raise ApiError("channel_not_found")
        text, markdown = text_arg(args, "text"), text_arg(args, "markdown_text")
        blocks = blocks_arg(args.get("blocks"))
        if not (text or markdown or blocks or extra.get("streaming")):
            raise ApiError("no_text")
        thread_ts = text_arg(args, "thread_ts") or None
        message = Message(
            channel, self._ws.next_ts(), "bot", thread_ts, text, markdown, blocks, **extra
        )
        self._ws.store(message)
        if thread_ts and not message.ephemeral:
            self._ws.clear_status(
                channel, thread_ts
            )  # Slack clears the status when the bot replies
        return message

    def _update(self, args: Json) -> Json:
        message = self._own(args)
        if message.streaming:
            raise ApiError("streaming_state_conflict")
        text, markdown = text_arg(args, "text"), text_arg(args, "markdown_text")
        blocks = args.get("blocks")
        if not (text or markdown or blocks):
            raise ApiError("no_text")
        message.text, message.markdown_text, message.streamed = text, markdown, False
        if blocks is not None:  # Slack keeps the blocks when none are given
            message.blocks = blocks_arg(blocks)
        self._ws.changed(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": text}

    def _delete(self, args: Json) -> Json:
        message = self._own(args)
        message.deleted = True
        self._ws.changed(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _start_stream(self, args: Json) -> Json:
        if not text_arg(args, "thread_ts"):
            raise ApiError("invalid_arguments")
        markdown, chunks = stream_pieces(args)
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
            message.blocks = blocks_arg(args.get("blocks"))
        self._stream_into(message, args)
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": message.api()}

    def _streaming(self, args: Json) -> Message:
        message = self._own(args)
        if not message.streaming:
            raise ApiError("message_not_in_streaming_state")
        return message

    def _stream_into(self, message: Message, args: Json) -> None:
        markdown, chunks = stream_pieces(args)
        message.markdown_text += markdown
        message.chunks.extend(chunks)
        self._ws.changed(message)

    def _react(self, args: Json, *, add: bool) -> Json:
        """reactions.add (`add`) or reactions.remove on a message of the workspace."""
        message = self._ws.messages.get((text_arg(args, "channel"), text_arg(args, "timestamp")))
        if message is None or message.deleted:
            raise ApiError("message_not_found")
        if error := react(message.reactions, text_arg(args, "name").strip(":"), add=add):
            raise ApiError(error)
        self._ws.changed(message)
        return {"ok": True}

    def _set_status(self, args: Json) -> Json:
        channel, thread_ts = text_arg(args, "channel_id"), text_arg(args, "thread_ts")
        if not channel or not thread_ts:
            raise ApiError("invalid_arguments")
        status = text_arg(args, "status")
        loading = args.get("loading_messages")
        if status and isinstance(loading, list) and loading:
            status = str(loading[0])  # Slack rotates these in place of the status; show one
        self._ws.statuses[(channel, thread_ts)] = status
        self._ws.feed.publish(
            "status", {"channel": channel, "thread_ts": thread_ts, "status": status}
        )
        return {"ok": True}

    def _set_prompts(self, args: Json) -> Json:
        prompts = args.get("prompts")
        if not text_arg(args, "channel_id") or not isinstance(prompts, list):
            raise ApiError("invalid_arguments")
        key = (text_arg(args, "channel_id"), text_arg(args, "thread_ts"))
        self._ws.prompts[key] = {"title": text_arg(args, "title"), "prompts": prompts}
        self._ws.feed.publish(
            "prompts", {"channel": key[0], "thread_ts": key[1]} | self._ws.prompts[key]
        )
        return {"ok": True}

    def _set_title(self, args: Json) -> Json:
        self._ws.titles[(text_arg(args, "channel_id"), text_arg(args, "thread_ts"))] = text_arg(
            args, "title"
        )
        return {"ok": True}

    def _replies(self, args: Json) -> Json:
        channel, ts = text_arg(args, "channel"), text_arg(args, "ts")
        found = [
            m.api()
            for m in self._ws.messages.values()
            if m.channel == channel
            and (m.ts == ts or m.thread_ts == ts)
            and not (m.deleted or m.ephemeral)
        ]
        return {"ok": True, "messages": found, "has_more": False}

    def _user_info(self, args: Json) -> Json:
        user = text_arg(args, "user")
        name = BOT_NAME if user == BOT_USER_ID else "you"
        profile = {"display_name": name, "real_name": name}
        return {
            "ok": True,
            "user": {"id": user, "team_id": TEAM_ID, "name": name, "profile": profile},
        }
