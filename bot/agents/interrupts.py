"""Pure: AgentCore Runtime interrupts, in the public Welt wire shape.

An agent pauses for a person by ending its stream with one event per question::

    data: {"interrupt": {"id": "<question id>", "name": "<name>", "reason": <any JSON>}}

`reason` is a string (the question), or `{"message": "…", "options": [{"value", "label",
"style"}]}` (the buttons to offer), or any other JSON (shown as it is). The bot resumes the
same runtime session with `{"interrupt_responses": {"<id>": "<answer>"}}` in place of `prompt`:
the chosen option's value, or `y` / `n` for the default Confirm / Cancel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.events import ActionInput, ActionRequest, ActionResult


def interrupt_request(value: Any) -> ActionRequest | None:
    """One `{"interrupt": {...}}` event as an ActionRequest (None when malformed)."""
    interrupt = value.get("interrupt") if isinstance(value, Mapping) else None
    if not isinstance(interrupt, Mapping) or not str(interrupt.get("id") or ""):
        return None
    question_id, name = str(interrupt["id"]), str(interrupt.get("name") or "")
    reason = interrupt.get("reason")
    raw: dict[str, Any] = {"id": question_id}
    if isinstance(reason, str):
        message = reason
    elif isinstance(reason, Mapping) and isinstance(reason.get("message"), str):
        message = reason["message"]
        if isinstance(reason.get("options"), list):
            raw["options"] = reason["options"]
    elif reason is None:
        message = ""
    else:
        message = json.dumps(reason, ensure_ascii=False, indent=2)
    item = ActionInput(kind="interrupt", action_group="", name=name, reason=message, raw=raw)
    return ActionRequest(question_id, (item,))


def interrupt_responses(results: Sequence[ActionResult]) -> dict[str, str]:
    """`interrupt_responses` of the resume payload: question id → answer."""
    return {
        str(r.input.raw.get("id")): r.body
        for r in results
        if r.input.kind == "interrupt" and r.input.raw.get("id")
    }
