"""Registers listeners on Bolt and remembers what they subscribe to (checked against the manifest)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp


class Listeners:
    """A thin front for `AsyncApp`: the same decorators, plus a record of subscriptions."""

    def __init__(self, app: AsyncApp) -> None:
        self.app = app
        self.events: set[str] = set()
        self.commands: set[str] = set()
        self.actions: set[str] = set()

    def event(
        self, name: str, *, as_in_manifest: Sequence[str] = (), matchers: Sequence[Any] = ()
    ) -> Callable[..., Any]:
        """`as_in_manifest`: the manifest's names when they differ (message → message.im)."""
        self.events.update(as_in_manifest or (name,))
        return self.app.event(name, matchers=list(matchers) or None)

    def command(self, name: str) -> Callable[..., Any]:
        self.commands.add(name)
        return self.app.command(name)

    def action(self, action_id: str) -> Callable[..., Any]:
        self.actions.add(action_id)
        return self.app.action(action_id)
