"""DMs (the app's Messages tab): handbook questions, answered in the DM with its memory."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot import formatting
from bot.conversation import Turn
from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import is_from_person, parse_question
from bot.slack_targets import SignOfLife, ThreadTarget
from handlers.common import question_text
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
        # Top level unless asked in a thread (the assistant pane always uses threads).
        target = ThreadTarget(
            team_id=question.team_id,
            channel=question.channel_id,
            thread_ts=question.thread_ts,
            user_id=question.user_id,
            question_ts=question.ts,
            sign_of_life=SignOfLife.STATUS,
        )
        sink = services.thread_answer(target)
        text = question_text(
            question.text,
            bot_user_id=context.bot_user_id,
            limit=services.settings.max_input_chars,
            sink=sink,
        )
        turn = Turn(
            surface="dm",
            team_id=question.team_id,
            channel_id=question.channel_id,
            user_id=question.user_id,
            text=text,
            # The whole DM is one conversation, so yesterday's questions are remembered today.
            conversation=conversation_key(question.team_id, question.channel_id),
            event_id=body.get("event_id"),
            empty_hint=formatting.DM_EMPTY_HINT,
        )
        await services.pipeline.handle(turn, sink)
