"""The only package that talks to Redis: conversations, sessions, dedup, locks, reports."""

from __future__ import annotations

from bot.limits import LOCK_LEASE_SECONDS
from bot.memory.admin import all_turns, memory_for, probe, self_test
from bot.memory.client import Client, close, connect, warm
from bot.memory.guard import STORE_ERRORS
from bot.memory.inflight import EVENT_TTL_SECONDS
from bot.memory.sessions import Session
from bot.memory.store import Memory

__all__ = [
    "EVENT_TTL_SECONDS",
    "LOCK_LEASE_SECONDS",
    "STORE_ERRORS",
    "Client",
    "Memory",
    "Session",
    "all_turns",
    "close",
    "connect",
    "memory_for",
    "probe",
    "self_test",
    "warm",
]
