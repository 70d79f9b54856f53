"""The only package that talks to Redis: conversations, sessions, dedup, locks, reports."""

from __future__ import annotations

from bot.memory.admin import all_turns, connect, memory_for, self_test
from bot.memory.store import EVENT_TTL_SECONDS, LOCK_LEASE_SECONDS, Memory, Session

__all__ = [
    "EVENT_TTL_SECONDS",
    "LOCK_LEASE_SECONDS",
    "Memory",
    "Session",
    "all_turns",
    "connect",
    "memory_for",
    "self_test",
]
