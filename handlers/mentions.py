"""`@bot question` in a channel → a streamed answer in the thread of that message."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot import formatting
from bot.conversation import Turn
from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import Question, is_from_person, parse_question
from bot.slack_stream import ThreadTarget

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_mention")
    async def on_mention(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if not is_from_person(event, bot_user_id=context.bot_user_id):
            return
        question = parse_question(event, body)
        if question is None:
            log.info("malformed app_mention ignored")
            return
        await answer_in_thread(services, question, body=body, bot_user_id=context.bot_user_id)


async def answer_in_thread(
    services: Services, question: Question, *, body: dict[str, Any], bot_user_id: str | None
) -> None:
    """The shared path for mentions and thread follow-ups."""
    target = ThreadTarget(
        team_id=question.team_id,
        channel=question.channel_id,
        thread_ts=question.reply_thread,
        user_id=question.user_id,
        question_ts=question.ts,
    )
    text = formatting.strip_mention(question.text, bot_user_id)
    sink = services.thread_answer(target)
    text, truncated = formatting.cap_input(text, services.settings.max_input_chars)
    if truncated:
        note = formatting.TRUNCATED_INPUT_NOTE.format(
            length=len(question.text), limit=services.settings.max_input_chars
        )
        sink.append(note + "\n\n")
    turn = Turn(
        surface="mention",
        team_id=question.team_id,
        channel_id=question.channel_id,
        user_id=question.user_id,
        text=text,
        conversation=conversation_key(question.team_id, question.channel_id, question.reply_thread),
        event_id=body.get("event_id"),
    )
    await services.pipeline.handle(turn, sink)
