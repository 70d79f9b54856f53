"""A paused turn as the action store keeps it: who asked (`Asked`), where it was shown and
what the agent waits for (`Pending`), and its JSON.

The JSON stays flat, as earlier versions wrote it, so replicas of either version read each
other's entries during a rolling deploy: the asker's fields sit beside the pending's own, the
turn id is stored as `asked_turn_id`, and the team is the place's.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from bot.events import ActionInput, ActionParameter, ActionRequest

# Asked's fields under another name in the stored JSON; `team_id` is not stored (the place's).
_STORED_AS = {"turn_id": "asked_turn_id"}
_NOT_STORED = ("team_id",)


@dataclass(frozen=True, slots=True)
class Asked:
    """The turn that paused: who asked, in which conversation, about what."""

    conversation: str
    asker: str
    team_id: str
    channel_id: str
    surface: str
    turn_id: str
    question: str
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Place:
    """Where the question was shown, and so where the answer continues."""

    kind: str  # "thread" (a message in a channel or DM) or "response_url" (ephemeral)
    team_id: str
    channel: str
    thread_ts: str | None = None
    question_ts: str | None = None
    sign_of_life: str = "reaction"
    response_url: str = ""


@dataclass(frozen=True, slots=True)
class Pending:
    """A paused turn waiting for its asker."""

    pending_id: str
    asked: Asked
    prior_text: str  # what the agent said before it paused (already shown)
    session_id: str
    generation: int
    request: ActionRequest
    place: Place
    expires_at: float
    shown_text: str = ""  # the text of the message the question was shown under


def new_pending_id() -> str:
    return secrets.token_hex(6)


def to_json(pending: Pending) -> str:
    data = asdict(pending)
    asked = data.pop("asked")
    data |= {_STORED_AS.get(name, name): asked[name] for name in _stored_asked_fields()}
    data["request"]["inputs"] = [_input_json(item) for item in pending.request.inputs]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _input_json(item: ActionInput) -> dict[str, Any]:
    data = asdict(item)
    data["raw"] = dict(item.raw)
    return data


def from_json(raw: str | bytes) -> Pending:
    data = json.loads(raw)
    data["attributes"] = dict(data.get("attributes") or {})  # entries from before attributes
    place = Place(**data.pop("place"))
    request = _request(data.pop("request"))
    asked = {name: data.pop(_STORED_AS.get(name, name)) for name in _stored_asked_fields()}
    return Pending(
        **data, asked=Asked(team_id=place.team_id, **asked), place=place, request=request
    )


def _stored_asked_fields() -> list[str]:
    return [item.name for item in fields(Asked) if item.name not in _NOT_STORED]


def _request(request: dict[str, Any]) -> ActionRequest:
    inputs = tuple(
        ActionInput(
            kind=item["kind"],
            action_group=item["action_group"],
            name=item["name"],
            parameters=tuple(ActionParameter(p["name"], p["value"]) for p in item["parameters"]),
            needs_confirmation=item["needs_confirmation"],
            needs_result=item["needs_result"],
            reason=item["reason"],
            raw=item["raw"],
        )
        for item in request["inputs"]
    )
    return ActionRequest(request["invocation_id"], inputs)
