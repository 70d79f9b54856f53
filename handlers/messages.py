"""DMs (the app's chat): each top-level message starts a conversation in its own thread."""

from __future__ import annotations

import asyncio
from typing import Any

from bot import agent_view, formatting
from bot.keys import conversation_key
from bot.services import Services
from bot.slack_events import Question
from bot.slack_targets import SignOfLife
from handlers.common import Delivery, answer_question, on_question
from handlers.listeners import Listeners


async def _in_a_dm(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im"


def register(app: Listeners, services: Services) -> None:
    @app.event("message", as_in_manifest=("message.im",), matchers=[_in_a_dm])
    @on_question
    async def on_direct_message(question: Question, delivery: Delivery) -> None:
        # A top-level message opens a thread of its own (a new conversation and session);
        # a reply in that thread continues it. Memory, sessions and feedback follow the thread.
        thread = question.reply_thread
        answer = answer_question(
            services,
            question,
            delivery,
            surface="dm",
            thread_ts=thread,
            conversation=conversation_key(question.team_id, question.channel_id, thread),
            sign_of_life=SignOfLife.STATUS,
            loading_messages=formatting.LOADING_MESSAGES,
            empty_hint=formatting.DM_EMPTY_HINT,
        )
        if question.thread_ts is not None:
            await answer
            return
        title = agent_view.set_title(
            services.client,
            channel=question.channel_id,
            thread_ts=thread,
            title=agent_view.thread_title(question.text),
        )
        await asyncio.gather(answer, title)
