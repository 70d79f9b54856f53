"""Thin Slack-surface handlers: each translates an event into a turn and picks where it goes."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import commands, confirm, feedback, home, lifecycle, mentions, messages, threads
from handlers.listeners import Listeners


def register_handlers(app: AsyncApp, services: Services) -> Listeners:
    """Register every surface; returns what was subscribed (the manifest must match it)."""
    listeners = Listeners(app)
    for surface in (mentions, threads, messages, commands, home, feedback, confirm, lifecycle):
        surface.register(listeners, services)
    return listeners
