"""👍/👎 under an answer: acknowledged, recorded with the turn, thanked privately."""

from __future__ import annotations

import logging
from typing import Any

from bot import blocks, formatting
from bot.services import Services
from bot.turn import read_feedback_reference
from handlers.listeners import ClickHandler, Listeners, Respond

log = logging.getLogger(__name__)


def register(app: Listeners, services: Services) -> None:
    # feedback_buttons (one action_id, the vote in the value) and the 👍/👎 buttons of answers
    # posted before them (the vote in the action_id), which stay clickable in Slack.
    actions = (blocks.FEEDBACK_ACTION, *formatting.FEEDBACK_ACTIONS)
    app.clicks(actions, on_feedback_for(services))


def on_feedback_for(services: Services) -> ClickHandler:
    async def on_feedback(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        user = (body.get("user") or {}).get("id")
        vote, raw = blocks.read_vote(action) or ("", "")
        rated = read_feedback_reference(raw)
        if rated is None:
            log.warning("feedback click with an unreadable value ignored")
            return
        conversation, turn_id = rated
        if not vote or not user:
            return
        await services.memory.record_feedback(
            conversation, turn_id=turn_id, user_id=user, vote=vote
        )
        services.metrics.feedback(vote)
        log.info("feedback recorded", extra={"vote": vote, "answer_turn_id": turn_id, "user": user})
        if body.get("response_url"):
            # Slack marks the chosen feedback button itself; the thanks is for the voter only.
            await respond(
                text=formatting.FEEDBACK_THANKS, response_type="ephemeral", replace_original=False
            )

    return on_feedback
