"""Pure: how a Slack conversation is named — its Redis keys and its Bedrock session ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Bedrock Agents: sessionId must match ^[0-9a-zA-Z._:-]+$ and be 2–100 characters.
_SESSION_ID_ALLOWED = re.compile(r"[^0-9a-zA-Z._:-]")
SESSION_ID_MAX = 100


def conversation_key(team_id: str, channel_id: str, thread_ts: str | None = None) -> str:
    """One Slack conversation: a channel thread, or a whole DM (thread_ts None)."""
    parts = [team_id or "T", channel_id]
    if thread_ts:
        parts.append(thread_ts)
    return ":".join(parts)


def order_conversation_key(team_id: str, user_id: str) -> str:
    """Order questions are private to their asker: one conversation per (team, user)."""
    return f"{team_id or 'T'}:order:{user_id}"


def session_id(key: str, generation: int) -> str:
    """A Bedrock session id for one generation of a conversation, always valid and unique."""
    candidate = f"{_SESSION_ID_ALLOWED.sub('-', key)}:g{generation}"
    if len(candidate) <= SESSION_ID_MAX and len(candidate) >= 2:
        return candidate
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"h-{digest}:g{generation}"


@dataclass(frozen=True, slots=True)
class Keys:
    """Every Redis key the bot uses, under one prefix; nothing else builds key strings.

    A conversation's keys share its hash tag — `<prefix>{<conversation>}:turns`, `…:session`,
    `…:lock`, `…:feedback`, `…:inflight` — so on a Redis Cluster they live in one slot and a
    MULTI, pipeline or script over several of them never crosses slots. Every other key (event
    dedup, once-notes, rate-limit notices, probes) is only ever used in single-key commands.
    """

    prefix: str

    def __post_init__(self) -> None:
        # Redis hashes the first {...} of a key: a brace in the prefix would become the tag.
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError("a Redis key prefix must not contain { or }")

    def conversation(self, conversation: str, what: str) -> str:
        return f"{self.prefix}{{{_tag(conversation)}}}:{what}"

    def turns(self, conversation: str) -> str:
        return self.conversation(conversation, "turns")

    def session(self, conversation: str) -> str:
        return self.conversation(conversation, "session")

    def lock(self, conversation: str) -> str:
        return self.conversation(conversation, "lock")

    def feedback(self, conversation: str) -> str:
        return self.conversation(conversation, "feedback")

    def inflight(self, conversation: str, turn_id: str = "") -> str:
        """A turn being answered (crash takeover): one per turn, in its conversation's slot."""
        return self.conversation(conversation, f"inflight:{turn_id}" if turn_id else "inflight")

    def inflight_deadlines(self) -> str:
        """One sorted set of every in-flight turn's lease deadline: sweeping needs no SCAN."""
        return f"{self.prefix}inflight-deadlines"

    def event(self, event_id: str) -> str:
        return f"{self.prefix}event:{event_id}"

    def once(self, name: str) -> str:
        return f"{self.prefix}once:{name}"

    def slack_block(self, team_id: str, method: str) -> str:
        return f"{self.prefix}slack429:{team_id}:{method}"

    def probe(self, name: str) -> str:
        return f"{self.prefix}probe:{name}"

    def turns_pattern(self) -> str:
        """The SCAN pattern matching every conversation's turns key (and nothing else)."""
        return f"{_escape_glob(self.prefix)}{{*}}:turns"

    def team_pattern(self, team_id: str) -> str:
        """The SCAN pattern matching every key of that team's conversations (their keys start
        with the team id, bot/keys.py `conversation_key`), and no other team's."""
        return f"{_escape_glob(self.prefix)}{{{_escape_glob(_tag(team_id))}:*"

    def conversation_of(self, key: str) -> str | None:
        """The conversation a per-conversation key belongs to, or None for any other key."""
        rest = key.removeprefix(self.prefix)
        if rest == key or not rest.startswith("{") or "}" not in rest:
            return None
        return rest[1 : rest.index("}")]


def _tag(conversation: str) -> str:
    # Slack ids never hold braces; should one appear, it must not end the hash tag early.
    return conversation.replace("{", "(").replace("}", ")") or "-"


def _escape_glob(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
