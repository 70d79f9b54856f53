"""👍/👎 under an answer: acknowledged, recorded with the turn, thanked."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import formatting
from bot.services import Services
from bot.slack_errors import classify
from handlers.listeners import Listeners

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]


def register(app: Listeners, services: Services) -> None:
    for action_id in formatting.FEEDBACK_ACTIONS:
        app.action(action_id)(on_feedback_for(services))


def on_feedback_for(services: Services) -> Callable[..., Awaitable[None]]:
    async def on_feedback(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        await ack()
        vote = formatting.FEEDBACK_ACTIONS.get(str(action.get("action_id")))
        user = (body.get("user") or {}).get("id")
        try:
            answer = json.loads(action.get("value") or "")
            conversation, turn_id = str(answer["c"]), str(answer["t"])
        except (ValueError, KeyError, TypeError):
            log.warning("feedback click with an unreadable value ignored")
            return
        if vote is None or not user:
            return
        await services.memory.record_feedback(
            conversation, turn_id=turn_id, user_id=user, vote=vote
        )
        services.metrics.feedback(vote)
        log.info("feedback recorded", extra={"vote": vote, "answer_turn_id": turn_id, "user": user})
        await thank(services, body, user=user, respond=respond)

    return on_feedback


async def thank(services: Services, body: dict[str, Any], *, user: str, respond: Respond) -> None:
    """In a DM the buttons become a thank-you; in a shared channel, only the voter is thanked."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    message = body.get("message") or {}
    blocks = message.get("blocks") or []
    keeps_text = any(
        b.get("block_id") != formatting.FEEDBACK_BLOCK_ID
        and b.get("type") in {"section", "markdown", "rich_text"}
        for b in blocks
    )
    if isinstance(channel, str) and channel.startswith("D") and message.get("ts") and keeps_text:
        try:
            await services.client.chat_update(
                channel=channel,
                ts=message["ts"],
                text=message.get("text") or formatting.FEEDBACK_THANKS,
                blocks=formatting.thanks_blocks(blocks, user),
            )
            return
        except Exception as exc:  # whatever Slack answered: the ephemeral thanks still goes out
            log.info(
                "could not replace the feedback buttons",
                extra={"slack_error": classify(exc).error},
            )
    if body.get("response_url"):
        await respond(
            text=formatting.FEEDBACK_THANKS, response_type="ephemeral", replace_original=False
        )
