"""Confirm / Cancel (and an interrupt's options) under a paused answer: the asker's click
resumes the agent, and the answer streams on in the same place."""

from __future__ import annotations

import logging
from typing import Any

from bot.actions import logic
from bot.actions.flow import Resumable
from bot.conversation import AnswerSink
from bot.services import Services
from bot.slack_targets import SignOfLife, ThreadTarget
from bot.turn import resumed_turn
from handlers.listeners import ClickHandler, Listeners, Respond

log = logging.getLogger(__name__)


def register(app: Listeners, services: Services) -> None:
    app.clicks(logic.all_action_ids(), on_click_for(services))


def on_click_for(services: Services) -> ClickHandler:
    async def on_click(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        click = logic.read_click(str(action.get("value") or ""))
        user = _dict(body.get("user")).get("id")
        if click is None or not isinstance(user, str) or services.actions is None:
            log.warning("confirmation click with an unreadable value ignored")
            return
        message_ts = _dict(body.get("container")).get("message_ts") or _dict(
            body.get("message")
        ).get("ts")
        response_url = body.get("response_url")
        resumable = await services.actions.click(
            click,
            user=user,
            respond=respond,
            response_url=response_url if isinstance(response_url, str) else None,
            message_ts=str(message_ts) if message_ts else None,
        )
        if resumable is None:
            return
        sink = resumed_sink(services, resumable, response_url)
        if sink is None:
            log.error("no place to continue a confirmed answer")
            return
        await services.pipeline.handle(
            resumed_turn(resumable.pending.asked), sink, resume=resumable.resume
        )

    return on_click


def resumed_sink(services: Services, resumable: Resumable, response_url: Any) -> AnswerSink | None:
    """Where the answer goes on: below the question, in its thread or privately."""
    place = resumable.pending.place
    if place.kind == "response_url":
        # The click's own response_url: fresh (five posts, 30 minutes) and still private.
        url = response_url if isinstance(response_url, str) else place.response_url
        return services.private_answer(url, replace_original=False)
    if place.kind == "thread":
        target = ThreadTarget(
            team_id=place.team_id,
            channel=place.channel,
            thread_ts=place.thread_ts,
            user_id=resumable.pending.asked.asker,
            question_ts=place.question_ts,
            sign_of_life=SignOfLife(place.sign_of_life),
        )
        return services.thread_answer(target)
    return None


def _dict(value: Any) -> dict[str, Any]:
    """A payload member that should be an object (a hostile one may not be)."""
    return value if isinstance(value, dict) else {}
