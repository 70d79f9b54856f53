"""Registers listeners on Bolt and remembers what they subscribe to (checked against the manifest)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp

Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]
# A button's handler: the interaction payload, the clicked action, and Bolt's `respond`.
ClickHandler = Callable[[dict[str, Any], dict[str, Any], Respond], Awaitable[None]]


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

    def clicks(self, action_ids: Iterable[str], handler: ClickHandler) -> None:
        """`handler` for each of these buttons, after the click is acknowledged (Slack shows
        the user an error for a click not acknowledged within three seconds)."""

        async def on_click(
            ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
        ) -> None:
            await ack()
            await handler(body, action, respond)

        for action_id in action_ids:
            self.action(action_id)(on_click)
