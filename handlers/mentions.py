"""`@bot question` in a channel → a streamed answer in the thread of that message."""

from __future__ import annotations

import logging

from bot import formatting
from bot.services import Services
from bot.slack_events import Question
from handlers.common import Delivery, answer_in_thread, on_question
from handlers.listeners import Listeners

log = logging.getLogger(__name__)

NOT_ALLOWED_NOTE_TTL = 86_400  # one note per person and channel a day


def register(app: Listeners, services: Services) -> None:
    @app.event("app_mention")
    @on_question
    async def on_mention(question: Question, delivery: Delivery) -> None:
        if not services.settings.channel_allowed(question.channel_id):
            await note_not_allowed(services, question)
            return
        await answer_in_thread(services, question, delivery, surface="mention")


async def note_not_allowed(services: Services, question: Question) -> None:
    """One polite ephemeral note, and no agent call, outside ALLOWED_CHANNELS."""
    once = f"not-allowed:{question.team_id}:{question.channel_id}:{question.user_id}"
    if not await services.memory.once(once, ttl_seconds=NOT_ALLOWED_NOTE_TTL):
        return
    log.info("question outside ALLOWED_CHANNELS", extra={"channel": question.channel_id})
    try:
        await services.client.chat_postEphemeral(
            channel=question.channel_id,
            user=question.user_id,
            thread_ts=question.thread_ts,
            text=formatting.NOT_ALLOWED_NOTE,
        )
    except Exception as exc:  # a note that cannot be shown is not worth a failure
        log.warning("could not post the not-allowed note", extra={"error": type(exc).__name__})
