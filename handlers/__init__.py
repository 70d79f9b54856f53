"""Thin Slack-surface handlers: each translates an event into a turn and picks where it goes."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import mentions, threads


def register_handlers(app: AsyncApp, services: Services) -> None:
    mentions.register(app, services)
    threads.register(app, services)
