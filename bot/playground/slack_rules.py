"""Web API rules the playground applies as Slack does, shared with the test suite's fake Slack.

Product code never imports the tests, so the one copy of a rule both need lives here and
`tests/fakes/slack_state.py` imports it. Each side reports a broken rule as its own error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def auth_test(
    team_id: str, user_id: str, bot_id: str, *, team: str, user: str, url: str
) -> dict[str, Any]:
    """auth.test's answer to a bot token of one workspace (not an org-wide install)."""
    return {
        "ok": True,
        "url": url,
        "team": team,
        "user": user,
        "team_id": team_id,
        "user_id": user_id,
        "bot_id": bot_id,
        "is_enterprise_install": False,
    }


def decode_json_fields(args: dict[str, Any], names: Iterable[str]) -> str | None:
    """Decode, in place, the fields Slack accepts as JSON-encoded strings (as form bodies send
    them); the name of the first one that is not valid JSON, or None."""
    for name in names:
        value = args.get(name)
        if isinstance(value, str) and value.strip():
            try:
                args[name] = json.loads(value)
            except ValueError:
                return name
    return None


def react(reactions: list[str], name: str, *, add: bool) -> str | None:
    """Add or remove one reaction name as Slack does; the error Slack answers, or None."""
    if (name in reactions) == add:
        return "already_reacted" if add else "no_reaction"
    if add:
        reactions.append(name)
    else:
        reactions.remove(name)
    return None
