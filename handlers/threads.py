"""Follow-ups in a channel thread the bot has answered: no new mention needed."""

from __future__ import annotations

from typing import Any

from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import Question, mentions_bot
from handlers.common import Delivery, answer_in_thread, on_question
from handlers.listeners import Listeners


async def _in_a_channel(event: dict[str, Any]) -> bool:
    return event.get("channel_type") in {"channel", "group"}


def register(app: Listeners, services: Services) -> None:
    @app.event(
        "message", as_in_manifest=("message.channels", "message.groups"), matchers=[_in_a_channel]
    )
    @on_question
    async def on_channel_message(question: Question, delivery: Delivery) -> None:
        if not question.in_thread:
            return  # top-level channel chatter is none of our business
        if mentions_bot(question.text, delivery.bot_user_id):
            return  # the app_mention event for this same message answers it
        if not services.settings.channel_allowed(question.channel_id):
            return
        key = conversation_key(question.team_id, question.channel_id, question.reply_thread)
        if not await services.memory.knows(key):
            return  # a thread the bot was never asked in
        await answer_in_thread(services, question, delivery, surface="thread")
