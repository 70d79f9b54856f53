"""Pure: read Slack event payloads — what to ignore, where a question lives, what it says."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Subtypes that still carry a person's new question. Everything else (edits, deletions,
# joins, bot messages, channel topic changes, …) never reaches the agent.
_QUESTION_SUBTYPES = frozenset({None, "", "thread_broadcast", "file_share"})


@dataclass(frozen=True, slots=True)
class Question:
    """A person's message that may deserve an answer."""

    team_id: str
    channel_id: str
    user_id: str
    text: str
    ts: str
    thread_ts: str | None  # the thread it was posted in, if any
    user_team: str | None = None  # the asker's own team (Slack Connect: not the workspace's)
    enterprise_id: str | None = None  # the Enterprise Grid org, when there is one

    @property
    def reply_thread(self) -> str:
        """Answers go into the message's thread, or start one under it."""
        return self.thread_ts or self.ts

    @property
    def in_thread(self) -> bool:
        return bool(self.thread_ts) and self.thread_ts != self.ts


def is_from_person(event: Mapping[str, Any], *, bot_user_id: str | None = None) -> bool:
    """True for a fresh message written by a human; False for bots, edits and other subtypes."""
    if event.get("subtype") not in _QUESTION_SUBTYPES:
        return False
    if event.get("bot_id") or event.get("bot_profile") or event.get("edited"):
        return False
    user = event.get("user")
    return bool(user) and user != bot_user_id


def parse_question(event: Mapping[str, Any], body: Mapping[str, Any]) -> Question | None:
    """The question in an `app_mention` or `message` event, or None if it is malformed."""
    channel = event.get("channel")
    user = event.get("user")
    ts = event.get("ts")
    if not (isinstance(channel, str) and isinstance(user, str) and isinstance(ts, str)):
        return None
    text = event.get("text")
    thread_ts = event.get("thread_ts")
    user_team = event.get("user_team")
    return Question(
        team_id=team_of(event, body),
        channel_id=channel,
        user_id=user,
        text=text if isinstance(text, str) else "",
        ts=ts,
        thread_ts=thread_ts if isinstance(thread_ts, str) and thread_ts else None,
        user_team=user_team if isinstance(user_team, str) and user_team else None,
        enterprise_id=enterprise_of(body),
    )


def enterprise_of(body: Mapping[str, Any]) -> str | None:
    """The Enterprise Grid org the event was delivered for, if any."""
    authorizations = body.get("authorizations")
    first = authorizations[0] if isinstance(authorizations, list) and authorizations else {}
    for candidate in (
        first.get("enterprise_id") if isinstance(first, dict) else None,
        body.get("enterprise_id"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def bot_mention(bot_user_id: str) -> re.Pattern[str]:
    """The bot's mention as Slack writes it, `<@UBOT>` or `<@UBOT|name>`: the one mention parser."""
    return re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>")


def mentions_bot(text: str, bot_user_id: str | None) -> bool:
    """True when `text` mentions the bot (its app_mention event then answers that message)."""
    return bool(bot_user_id) and bot_mention(str(bot_user_id)).search(text) is not None


def team_of(event: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """The workspace the event was delivered for (stable across shared channels)."""
    for candidate in (body.get("team_id"), event.get("team"), event.get("user_team")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return "T"
