"""The playground's one Slack workspace: messages, statuses and prompts, published on the feed.

A compact, page-oriented cousin of the test suite's fake Slack: what the page does lands here,
and so does every write the bot makes (through slack_methods.py). No HTTP here (server.py).
"""

from __future__ import annotations

import itertools
import secrets
import time

from bot.playground.feed import Feed
from bot.playground.model import Json, Message, ResponseTarget, blocks_arg
from bot.playground.slack_methods import SlackMethods


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
        self.api = SlackMethods(self)

    # -- what the page and the server use ------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh, strictly increasing Slack ts."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def post_user_message(self, channel: str, text: str, thread_ts: str | None) -> Message:
        message = Message(channel, self.next_ts(), "user", thread_ts=thread_ts, text=text)
        self.store(message)
        return message

    def add_response_url(self, target: ResponseTarget, *, replaces: str | None = None) -> str:
        """A response_url for `target`; `replaces` is the message `replace_original` edits."""
        key = secrets.token_urlsafe(12)  # unguessable: only the bot learns it, from the request
        self.responses[key] = target
        if replaces:
            self.replaces[key] = replaces
        return key

    def respond(self, key: str, body: Json) -> Message:
        """A slash command's ack body or a response_url post; ephemeral unless `in_channel`."""
        target = self.responses[key]
        text, blocks = str(body.get("text") or ""), blocks_arg(body.get("blocks"))
        old = self.messages.get((target.channel, self.replaces.get(key, "")))
        if old is not None and not old.deleted and body.get("delete_original"):
            old.deleted = True
            self.changed(old)
            return old
        if old is not None and not old.deleted and body.get("replace_original"):
            old.text, old.markdown_text, old.blocks = text, "", blocks
            self.changed(old)
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
        self.store(message)
        self.replaces.setdefault(key, message.ts)  # a command's later posts replace its ack
        return message

    def call(self, method: str, args: Json) -> Json:
        """Answer one Web API call as Slack would; raises ApiError."""
        return self.api.call(method, args)

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

    # -- what the Web API methods use ----------------------------------------------------------

    def store(self, message: Message) -> None:
        self.messages[(message.channel, message.ts)] = message
        self.feed.publish("message", message.page())

    def changed(self, message: Message) -> None:
        self.feed.publish("message", message.page())

    def clear_status(self, channel: str, thread_ts: str) -> None:
        if self.statuses.get((channel, thread_ts)):
            self.statuses[(channel, thread_ts)] = ""
            self.feed.publish("status", {"channel": channel, "thread_ts": thread_ts, "status": ""})
