"""The turn policy: what a turn asks, shows at the end and remembers. Pure: no I/O.

The pipeline (bot/conversation.py) and the handlers both use these, so the late-join wording,
the closing text and the feedback reference have one home each.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from bot import formatting
from bot.actions.record import Asked
from bot.events import ActionResult, AgentFailure, AgentRequest, Answer, FailureKind
from bot.history import StoredTurn, replay_messages
from bot.memory import Session


def new_turn_id() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class Turn:
    """One question from Slack, already stripped of mentions and checked by its handler."""

    surface: str
    team_id: str
    channel_id: str
    user_id: str
    text: str
    conversation: str
    event_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    empty_hint: str = formatting.EMPTY_QUESTION_HINT  # the reply when `text` is empty
    turn_id: str = field(default_factory=new_turn_id)
    # The Slack message asked (team:channel:ts), claimed beside the event id: a redelivery
    # under another envelope (or app_mention + message for one message) is answered once.
    message_key: str | None = None
    fresh_session: bool = False  # a turn taken over from a dead replica (bot/takeover.py)

    def session_attributes(self) -> dict[str, str]:
        # Action groups authorise on these; they come from Slack's payload, never from the text.
        return {
            "slackTeamId": self.team_id,
            "slackChannelId": self.channel_id,
            "slackUserId": self.user_id,
            **self.attributes,
        }


def late_join_text(transcript: str, question: str) -> str:
    """The question of a bot that joined late: the thread so far goes with it."""
    return f"{transcript}\n\nNow I am asked:\n{question}" if transcript else question


def request_for(turn: Turn, session: Session, text: str) -> AgentRequest:
    """A new question's request; a fresh session replays the remembered history."""
    return AgentRequest(
        text=text,
        session_id=session.session_id,
        session_attributes=turn.session_attributes(),
        user_id=turn.user_id,
        history=replay_messages(session.history) if session.fresh else (),
        conversation=turn.conversation,
        surface=turn.surface,
    )


def resumed_request(turn: Turn, session_id: str, results: tuple[ActionResult, ...]) -> AgentRequest:
    """The request that hands a paused agent what a person (or the caller) answered."""
    return AgentRequest(
        text="",
        session_id=session_id,
        session_attributes=turn.session_attributes(),
        user_id=turn.user_id,
        resume=results,
    )


@dataclass(frozen=True, slots=True)
class Closing:
    """What goes under the streamed text. `note` is the failure note, if any; when the answer
    has text it is shown apart as `alert` (a block under the text), else inside `suffix`."""

    suffix: str
    reference: str | None = None
    alert: str | None = None
    note: str | None = None


def closing(answer: Answer, reference: str | None = None) -> Closing:
    """Sources, or an error note with `reference` (a failed answer needs one)."""
    parts: list[str] = []
    alert = note = None
    has_text = bool(answer.text.strip())
    if answer.failure is not None:
        reference = reference or formatting.new_reference()
        note = formatting.failure_text(answer.failure, reference=reference, partial=has_text)
        if has_text:
            alert = note
        else:
            parts.append(note)
    else:
        reference = None
        if not has_text:
            parts.append(formatting.EMPTY_ANSWER_TEXT)
    if answer.sources:
        parts.append(formatting.sources_markdown(answer.sources))
    separator = "\n\n" if has_text else ""
    suffix = separator + "\n\n".join(parts) if parts else ""
    return Closing(suffix, reference, alert, note)


def internal_error_text(reference: str) -> str:
    """The note of a turn that failed inside the bot (not the agent)."""
    failure = AgentFailure(FailureKind.UNKNOWN, "internal")
    return formatting.failure_text(failure, reference=reference, partial=False)


def feedback_reference(conversation: str, turn_id: str) -> str:
    """The value the 👍/👎 buttons carry: which turn of which conversation they rate."""
    return json.dumps({"c": conversation, "t": turn_id}, separators=(",", ":"))


def read_feedback_reference(value: str) -> tuple[str, str] | None:
    """(conversation, turn_id) from a button's value; None when it is not one of ours."""
    try:
        data = json.loads(value)
        return str(data["c"]), str(data["t"])
    except (ValueError, KeyError, TypeError):
        return None


def joined(prior: str, text: str) -> str:
    """A resumed answer's text: what was shown before the pause, then what came after."""
    return f"{prior}\n\n{text}" if prior.strip() and text.strip() else prior + text


def stored_turn(
    turn: Turn, answer: Answer, *, cost: float, asked_at: float, answered_at: float
) -> StoredTurn:
    """What memory keeps of an answered turn."""
    return StoredTurn(
        question=turn.text,
        answer=answer.text,
        interrupted=answer.interrupted,
        input_tokens=answer.usage.input_tokens,
        output_tokens=answer.usage.output_tokens,
        cost_usd=round(cost, 6),
        user_id=turn.user_id,
        asked_at=asked_at,
        answered_at=answered_at,
        turn_id=turn.turn_id,
    )


# A turn's fields under the action flow's names (Asked); the rest are named alike.
_TURN_FIELD_OF = {"asker": "user_id", "question": "text"}


def asked(turn: Turn) -> Asked:
    """The turn as the action flow knows it (who asked what, where)."""
    values = {
        item.name: getattr(turn, _TURN_FIELD_OF.get(item.name, item.name)) for item in fields(Asked)
    }
    return Asked(**values | {"attributes": dict(turn.attributes)})


def resumed_turn(asked: Asked) -> Turn:
    """The turn a confirmed click continues: the asker's question, under a turn id of its own."""
    values = {
        _TURN_FIELD_OF.get(item.name, item.name): getattr(asked, item.name)
        for item in fields(Asked)
    }
    del values["turn_id"]
    return Turn(**values)
