"""Pure: how a Slack conversation is named — for memory keys and Bedrock session ids."""

from __future__ import annotations

import hashlib
import re

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
