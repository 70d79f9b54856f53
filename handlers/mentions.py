"""`@bot question` in a channel → a streamed answer in the thread of that message."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot import formatting
from bot.conversation import ContextReader, Turn
from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import Question, is_from_person, parse_question
from bot.slack_stream import ThreadTarget
from bot.thread_context import read_thread

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
        await answer_in_thread(
            services, question, event_id=body.get("event_id"), bot_user_id=context.bot_user_id
        )


async def answer_in_thread(
    services: Services,
    question: Question,
    *,
    event_id: str | None,
    bot_user_id: str | None,
    surface: str = "mention",
) -> None:
    """The shared path for mentions and thread follow-ups."""
    target = ThreadTarget(
        team_id=question.team_id,
        channel=question.channel_id,
        thread_ts=question.reply_thread,
        user_id=question.user_id,
        question_ts=question.ts,
    )
    sink = services.thread_answer(target)
    text, truncated = formatting.cap_input(
        formatting.strip_mention(question.text, bot_user_id), services.settings.max_input_chars
    )
    if truncated:
        limit = services.settings.max_input_chars
        sink.append(formatting.TRUNCATED_INPUT_NOTE.format(length=len(question.text), limit=limit))
        sink.append("\n\n")
    turn = Turn(
        surface=surface,
        team_id=question.team_id,
        channel_id=question.channel_id,
        user_id=question.user_id,
        text=text,
        conversation=conversation_key(question.team_id, question.channel_id, question.reply_thread),
        event_id=event_id,
    )
    context: ContextReader | None = None
    if question.in_thread:

        async def context() -> str:
            return await read_thread(
                services.client,
                channel=question.channel_id,
                thread_ts=question.reply_thread,
                before_ts=question.ts,
                bot_user_id=bot_user_id,
            )

    await services.pipeline.handle(turn, sink, context=context)
