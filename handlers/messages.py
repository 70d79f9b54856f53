"""DMs (the app's Messages tab): handbook questions, answered in the DM with its memory."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot import formatting
from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import is_from_person, parse_question
from bot.slack_targets import SignOfLife
from handlers.common import answer_question
from handlers.listeners import Listeners


async def _in_a_dm(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im"


def register(app: Listeners, services: Services) -> None:
    @app.event("message", as_in_manifest=("message.im",), matchers=[_in_a_dm])
    async def on_direct_message(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if not is_from_person(event, bot_user_id=context.bot_user_id):
            return
        question = parse_question(event, body)
        if question is None:
            return
        await answer_question(
            services,
            question,
            surface="dm",
            thread_ts=question.thread_ts,  # top level unless asked in a thread
            # The whole DM is one conversation, so yesterday's questions are remembered today.
            conversation=conversation_key(question.team_id, question.channel_id),
            event_id=body.get("event_id"),
            bot_user_id=context.bot_user_id,
            sign_of_life=SignOfLife.STATUS,
            empty_hint=formatting.DM_EMPTY_HINT,
        )
