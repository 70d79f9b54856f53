"""Answers that only their asker sees: posted through a slash command's `response_url`.

A response_url takes up to five posts within 30 minutes, so the answer is not streamed: the ack
already said "Looking up…", and the finished answer replaces it in one post (more only when it
is longer than one message).

Slack documents `text`, `blocks`, `attachments`, `response_type`, `replace_original` and
`delete_original` for a response_url message (docs.slack.dev/interactivity/handling-user-
interaction; slack_sdk's WebhookClient.send takes no `markdown_text`), so the Markdown goes as
`markdown` blocks, which Slack renders itself (12,000 characters per message), with a plain
`text` for notifications.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import blocks as slack_blocks
from bot import formatting

log = logging.getLogger(__name__)

_ATTEMPTS = 3


class ResponseUrlAnswer:
    """Collects the answer and posts it, ephemeral, replacing the "Looking up…" note."""

    def __init__(
        self, *, session: aiohttp.ClientSession, response_url: str, replace_original: bool = True
    ) -> None:
        self._webhook = AsyncWebhookClient(response_url, session=session, timeout=15)
        self.response_url = response_url
        # False: the answer goes below what is shown (a resumed answer keeps the receipt).
        self._replace_original = replace_original
        self._markdown = ""
        self._ended = False
        self.first_visible_at: float | None = None

    async def begin(self) -> None:
        """The slash command's ack is the sign of life; nothing to do here."""

    def append(self, text: str) -> None:
        self._markdown += text

    @property
    def ended(self) -> bool:
        return self._ended

    async def end(self, *, suffix: str = "", blocks: list[dict[str, Any]] | None = None) -> bool:
        self._ended = True
        body = (self._markdown + suffix).strip() or formatting.EMPTY_ANSWER_TEXT
        parts = [
            part
            for part in formatting.split_message(body, slack_blocks.MARKDOWN_BLOCKS_LIMIT)
            if part.strip()
        ]
        delivered = True
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            content = slack_blocks.block_content(part, (blocks or []) if last else [])
            delivered &= await self._post(
                text=content.get("text", ""),
                blocks=content["blocks"],
                replace_original=index == 0 and self._replace_original,
            )
            if delivered and self.first_visible_at is None:
                self.first_visible_at = time.monotonic()
        return delivered

    async def _post(
        self, *, text: str, blocks: list[dict[str, Any]] | None, replace_original: bool
    ) -> bool:
        for attempt in range(_ATTEMPTS):
            try:
                response = await self._webhook.send(
                    text=text,
                    blocks=blocks,
                    response_type="ephemeral",
                    replace_original=replace_original,
                )
                if response.status_code < 500:
                    if response.status_code != 200:
                        log.error(
                            "response_url refused the answer",
                            extra={"status": response.status_code, "body": response.body[:200]},
                        )
                    return response.status_code == 200
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("response_url post failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(0.25 * 2**attempt)
        log.error("answer could not be delivered through response_url")
        return False
