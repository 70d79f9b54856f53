"""`/order <order-id>` → the agent's answer, visible only to the person who asked."""

from __future__ import annotations

import logging
from typing import Any

from bot import formatting
from bot.conversation import Turn
from bot.keys import order_conversation_key
from bot.services import Services
from handlers.listeners import Ack, Listeners

log = logging.getLogger(__name__)


def register(app: Listeners, services: Services) -> None:
    settings = services.settings
    pattern = settings.order_id_regex
    name = settings.order_command

    @app.command(name)
    async def on_order(ack: Ack, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "").strip()
        channel = str(command.get("channel_id") or "")
        if channel and not channel.startswith("D") and not settings.channel_allowed(channel):
            await ack(response_type="ephemeral", text=formatting.NOT_ALLOWED_NOTE)
            return
        if not text or text.lower() == "help" or not pattern.match(text):
            await ack(response_type="ephemeral", text=formatting.ORDER_USAGE.format(command=name))
            return
        response_url = command.get("response_url")
        user, team = command.get("user_id"), command.get("team_id")
        if not (isinstance(response_url, str) and isinstance(user, str) and team):
            await ack(response_type="ephemeral", text=formatting.ORDER_USAGE.format(command=name))
            log.warning("slash command without response_url or user ignored")
            return
        await ack(response_type="ephemeral", text=formatting.ORDER_LOOKING_UP.format(order_id=text))
        turn = Turn(
            surface="order",
            team_id=str(team),
            channel_id=channel,
            user_id=user,
            text=formatting.ORDER_QUESTION.format(order_id=text),
            conversation=order_conversation_key(str(team), user),
            event_id=f"command:{command.get('trigger_id')}" if command.get("trigger_id") else None,
            attributes={"orderId": text} | enterprise_of(command),
        )
        await services.pipeline.handle(turn, services.private_answer(response_url))


def enterprise_of(command: dict[str, Any]) -> dict[str, str]:
    """Pure: the Enterprise Grid org of the command (as on every surface's sessionAttributes)."""
    enterprise = command.get("enterprise_id")
    return {"slackEnterpriseId": str(enterprise)} if enterprise else {}
