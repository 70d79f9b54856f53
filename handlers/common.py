"""The steps every question-answering surface shares: Slack question in, answer in a thread."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot import formatting
from bot.conversation import AnswerSink, ContextReader, Turn
from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import Question, is_from_person, parse_question
from bot.slack_targets import SignOfLife, ThreadTarget
from bot.thread_context import read_thread

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a question reached the bot: the event's id (dedup) and the bot user it went to."""

    event_id: str | None
    bot_user_id: str | None


QuestionHandler = Callable[[Question, Delivery], Awaitable[None]]


def on_question(handler: QuestionHandler) -> Callable[..., Awaitable[None]]:
    """A Bolt event listener that hands `handler` the question a person asked, and only that:
    bots' messages (our own included), edits and malformed events stop here."""

    async def listener(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if not is_from_person(event, bot_user_id=context.bot_user_id):
            return
        question = parse_question(event, body)
        if question is None:
            log.info("malformed %s ignored", event.get("type") or "event")
            return
        await handler(question, Delivery(body.get("event_id"), context.bot_user_id))

    return listener


async def answer_question(
    services: Services,
    question: Question,
    delivery: Delivery,
    *,
    surface: str,
    thread_ts: str | None,
    conversation: str,
    sign_of_life: SignOfLife = SignOfLife.REACTION,
    loading_messages: tuple[str, ...] = (),
    empty_hint: str = formatting.EMPTY_QUESTION_HINT,
    context: ContextReader | None = None,
) -> None:
    """Answer `question` in `thread_ts` (None: at the top level) through the one pipeline."""
    target = ThreadTarget(
        team_id=question.team_id,
        channel=question.channel_id,
        thread_ts=thread_ts,
        user_id=question.user_id,
        question_ts=question.ts,
        sign_of_life=sign_of_life,
        loading_messages=loading_messages,
        user_team_id=question.user_team,
    )
    sink = services.thread_answer(target)
    limit = services.settings.max_input_chars
    turn = Turn(
        surface=surface,
        team_id=question.team_id,
        channel_id=question.channel_id,
        user_id=question.user_id,
        text=question_text(question.text, bot_user_id=delivery.bot_user_id, limit=limit, sink=sink),
        conversation=conversation,
        event_id=delivery.event_id,
        empty_hint=empty_hint,
        message_key=f"{question.team_id}:{question.channel_id}:{question.ts}",
        attributes={"slackEnterpriseId": question.enterprise_id} if question.enterprise_id else {},
    )
    await services.pipeline.handle(
        turn, sink, context=context, watch=services.turns.watch(turn, target)
    )


async def retake(services: Services, turn: Turn, target: ThreadTarget, owner: str) -> None:
    """Answer a turn another replica left unfinished (bot/takeover.py) in its thread again."""
    sink = services.thread_answer(target)
    await services.pipeline.handle(
        turn, sink, watch=services.turns.watch(turn, target, owner=owner)
    )


async def answer_in_thread(
    services: Services, question: Question, delivery: Delivery, *, surface: str
) -> None:
    """Channels: the answer goes in the message's thread; a thread joined late is read once."""
    context: ContextReader | None = None
    if question.in_thread:

        async def context() -> str:
            return await read_thread(
                services.client,
                channel=question.channel_id,
                thread_ts=question.reply_thread,
                before_ts=question.ts,
                bot_user_id=delivery.bot_user_id,
            )

    await answer_question(
        services,
        question,
        delivery,
        surface=surface,
        thread_ts=question.reply_thread,
        conversation=conversation_key(question.team_id, question.channel_id, question.reply_thread),
        context=context,
    )


def question_text(raw: str, *, bot_user_id: str | None, limit: int, sink: AnswerSink) -> str:
    """The question without the bot's mention, cut to `limit` with a visible note if longer."""
    question = formatting.strip_mention(raw, bot_user_id)
    text, truncated = formatting.cap_input(question, limit)
    if truncated:
        note = formatting.TRUNCATED_INPUT_NOTE.format(length=len(question), limit=limit)
        sink.append(note + "\n\n")
    return text
