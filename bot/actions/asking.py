"""A paused turn, as the action flow holds it: who asked, where the question is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.actions import logic
from bot.actions.record import Asked, Pending, Place, new_pending_id
from bot.events import ActionRequest
from bot.slack_respond import ResponseUrlAnswer
from bot.slack_stream import AnswerStream


class Sink(Protocol):
    async def end(
        self, *, suffix: str = "", blocks: list[dict[str, Any]] | None = None
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class Resumable:
    """A click that answered the last open question: the pipeline resumes the agent."""

    pending: Pending
    resume: logic.Resume


def place_of(sink: object, *, team_id: str, channel_id: str) -> Place | None:
    """Where a sink shows its answer, as something another replica can find again."""
    if isinstance(sink, AnswerStream):
        target = sink.target
        return Place(
            "thread",
            target.team_id,
            target.channel,
            target.thread_ts,
            target.question_ts,
            target.sign_of_life.value,
        )
    if isinstance(sink, ResponseUrlAnswer):
        return Place("response_url", team_id, channel_id, response_url=sink.response_url)
    return None


def pending_for(
    asked: Asked,
    place: Place | None,
    request: ActionRequest,
    *,
    expires_at: float,
    session_id: str,
    generation: int,
    shown_text: str,
    prior_text: str,
) -> Pending:
    """The question to hold, placed where the answer is (no place: it cannot be held)."""
    return Pending(
        pending_id=new_pending_id(),
        asked=asked,
        prior_text=prior_text,
        session_id=session_id,
        generation=generation,
        request=request,
        place=place or Place("", asked.team_id, asked.channel_id),
        expires_at=expires_at,
        shown_text=shown_text,
    )
