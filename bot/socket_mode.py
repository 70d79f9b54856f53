"""Socket Mode that can always be stopped, says whether it is connected, and logs quietly.

slack_sdk's `connect()` retries forever before returning, every `ping_interval` seconds, with a
full traceback each time — so awaiting it at start-up made SIGTERM wait for Slack to come back.
Here it runs as a background task (cancelled on stop), the URL it needs comes from
`apps.connections.open` retried with exponential backoff and one log line per failed attempt
(also on reconnects, which go through the same call), and the SDK's own records lose their
tracebacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.http_guard import without_event
from bot.slack_errors import classify

log = logging.getLogger(__name__)

_SDK_LOGGER = "bot.socket_mode.sdk"
_FIRST_DELAY = 1.0
_MAX_DELAY = 60.0


class _OneLine(logging.Filter):
    """The SDK's connection records as one line without a traceback; its "Failed to retrieve WSS
    URL" is dropped, since `SocketModeLink` logs each failed attempt itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Failed to retrieve WSS URL") or "session () " in message:
            return False  # logged by SocketModeLink / a session that never existed
        record.msg, record.args = " ".join(message.split()), ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def sdk_logger() -> logging.Logger:
    logger = logging.getLogger(_SDK_LOGGER)
    if not any(isinstance(f, _OneLine) for f in logger.filters):
        logger.addFilter(_OneLine())
    return logger


def backoff(attempt: int) -> float:
    """Seconds before retry `attempt` (1, 2, …): doubling up to a minute, with jitter."""
    delay: float = min(_MAX_DELAY, _FIRST_DELAY * 2 ** (attempt - 1))
    return delay * random.uniform(0.5, 1.0)


class SocketModeLink:
    """The Bolt app's Socket Mode connection, run in the background."""

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        self._handler = AsyncSocketModeHandler(app, app_token, logger=sdk_logger())
        client = self._handler.client
        self._issue_url = client.issue_new_wss_url
        # Every (re)connect asks for a fresh URL through this: the one place to retry politely.
        client.issue_new_wss_url = self._issue_url_patiently  # type: ignore[method-assign]
        # Screen envelopes as the HTTP front door screens requests, before Bolt sees them.
        client.socket_mode_request_listeners[:] = [self._screened]
        self._task: asyncio.Task[None] | None = None

    async def _screened(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        if request.type == "events_api" and without_event(request.payload):
            log.info("Socket Mode event without an event object ignored")
            await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))
            return
        await self._handler.handle(client, request)  # type: ignore[arg-type]

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="socket-mode-connect")

    async def _connect(self) -> None:
        await self._handler.connect_async()  # type: ignore[no-untyped-call]
        if await self.connected():
            log.info("Socket Mode connected")

    async def connected(self) -> bool:
        return bool(await self._handler.client.is_connected())

    async def _issue_url_patiently(self) -> str:
        attempt = 0
        while True:
            try:
                return str(await self._issue_url())
            except Exception as exc:  # unreachable, refused, invalid_auth: all retried
                if self._handler.client.closed:
                    raise
                attempt += 1
                delay = backoff(attempt)
                log.warning(
                    "Socket Mode connection failed; retrying",
                    extra={
                        "attempt": attempt,
                        "retry_in_s": round(delay, 1),
                        "error": classify(exc).error,
                    },
                )
                await asyncio.sleep(delay)

    async def close(self) -> None:
        """Stop connecting (at any moment) and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self._handler.close_async()  # type: ignore[no-untyped-call]
        except Exception:  # a half-open session may fail to close; we are leaving anyway
            log.debug("closing the Socket Mode connection failed", exc_info=True)
