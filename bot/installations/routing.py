"""Every Slack call made while handling a request goes out with that request's workspace token.

In OAuth mode the bot has no token of its own: each workspace (or Enterprise Grid org) has one,
found by Bolt's `authorize` and put on the per-request client Bolt builds (`context.client`,
with the org's `team_id` for org-wide installs). The rest of the bot holds one process-wide
client (`Services.client`, one pooled HTTP session) and knows nothing of this: a Bolt
middleware binds the request's client in the request's task, and the listener tasks Bolt
starts inherit it (contextvars), so every answer writer, prompt, note and feedback reply of that
event speaks as that workspace, and two workspaces' answers can never swap tokens.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

_request_client: contextvars.ContextVar[AsyncWebClient | None] = contextvars.ContextVar(
    "request_client", default=None
)


class RequestScopedClient(AsyncWebClient):
    """The process-wide client of OAuth mode: calls use the current request's workspace client.

    Outside any request (no workspace bound) it has no token, so Slack answers `not_authed`
    instead of the bot ever writing with another workspace's token.
    """

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        bound = _request_client.get()
        if bound is None or kwargs.get("auth") is not None:  # OAuth calls carry their own
            return await super().api_call(api_method, **kwargs)
        return await bound.api_call(api_method, **kwargs)


@contextmanager
def speaking_as(client: AsyncWebClient) -> Iterator[None]:
    """Work outside a Slack request (a takeover, an expiry sweep) speaks with `client`, one
    workspace's own, in this task and the tasks it starts, until the block ends."""
    token = _request_client.set(client)
    try:
        yield
    finally:
        _request_client.reset(token)


def bind_request_clients(app: AsyncApp) -> None:
    """Register the middleware that binds each request's own client (after authorize)."""

    async def bind_request_client(
        context: AsyncBoltContext, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        # Not reset afterwards: Bolt runs the listeners after the middleware chain returns,
        # still in this request's task. aiohttp handles each request in a task of its own
        # (a copy of the context), so the binding ends with the request and its listeners.
        _request_client.set(context.client)
        return await next()

    app.middleware(bind_request_client)
