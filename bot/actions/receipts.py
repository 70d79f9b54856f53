"""Edits the question message once it is answered or expired: receipts where buttons were."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import formatting
from bot.actions import logic
from bot.actions.store import Stored
from bot.limits import SECTION_TEXT_LIMIT

log = logging.getLogger(__name__)


async def show(
    client: AsyncWebClient,
    stored: Stored,
    *,
    expired: bool,
    response_url: str | None,
    ts: str | None,
) -> None:
    """Replace the question's buttons with receipts (or "expired"), where it was shown."""
    pending = stored.pending
    blocks = logic.rebuilt_blocks(
        pending.request,
        conversation=pending.asked.conversation,
        pending_id=pending.pending_id,
        asker=pending.asked.asker,
        answers=stored.answers,
        shown_text=pending.shown_text,
        expired=expired,
    )
    text = formatting.to_mrkdwn(logic.lead_markdown(pending.shown_text))
    text = text[:SECTION_TEXT_LIMIT]
    place = pending.place
    try:
        if place.kind == "response_url":
            await _replace_ephemeral(client, response_url or place.response_url, text, blocks)
        elif ts := ts or stored.message_ts:
            await client.chat_update(channel=place.channel, ts=ts, text=text, blocks=blocks)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "could not update the confirmation message",
            extra={"error": type(exc).__name__, "pending_id": pending.pending_id},
        )


async def _replace_ephemeral(
    client: AsyncWebClient, url: str, text: str, blocks: list[dict[str, Any]]
) -> None:
    session = client.session
    webhook = AsyncWebhookClient(url, session=session, timeout=15)
    response = await webhook.send(
        text=text, blocks=blocks, response_type="ephemeral", replace_original=True
    )
    if response.status_code != 200:
        log.warning("response_url refused the receipt", extra={"status": response.status_code})
