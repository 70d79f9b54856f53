"""A question button's value: which answer to which question of which pause it is."""

from __future__ import annotations

import json
from dataclasses import dataclass


def button_value(conversation: str, pending_id: str, index: int, choice: int) -> str:
    return json.dumps(
        {"c": conversation, "p": pending_id, "i": index, "v": choice}, separators=(",", ":")
    )


@dataclass(frozen=True, slots=True)
class Click:
    """A button press, read back from its value."""

    conversation: str
    pending_id: str
    index: int
    choice: int


def read_click(value: str) -> Click | None:
    try:
        data = json.loads(value)
        click = Click(str(data["c"]), str(data["p"]), int(data["i"]), int(data["v"]))
    except (ValueError, KeyError, TypeError):
        return None
    return click if click.index >= 0 and click.choice >= 0 else None
