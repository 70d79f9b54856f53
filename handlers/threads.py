"""Follow-ups in a channel thread the bot has answered: no new mention needed."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import is_from_person, mentions_bot, parse_question
from handlers.common import answer_in_thread
from handlers.listeners import Listeners


async def _in_a_channel(event: dict[str, Any]) -> bool:
    return event.get("channel_type") in {"channel", "group"}


def register(app: Listeners, services: Services) -> None:
    @app.event(
        "message", as_in_manifest=("message.channels", "message.groups"), matchers=[_in_a_channel]
    )
    async def on_channel_message(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        bot_user_id = context.bot_user_id
        if not is_from_person(event, bot_user_id=bot_user_id):
            return
        question = parse_question(event, body)
        if question is None or not question.in_thread:
            return  # top-level channel chatter is none of our business
        if mentions_bot(question.text, bot_user_id):
            return  # the app_mention event for this same message answers it
        if not services.settings.channel_allowed(question.channel_id):
            return
        key = conversation_key(question.team_id, question.channel_id, question.reply_thread)
        if not await services.memory.knows(key):
            return  # a thread the bot was never asked in
        await answer_in_thread(
            services,
            question,
            event_id=body.get("event_id"),
            bot_user_id=bot_user_id,
            surface="thread",
        )
