"""Pure: configuration that validates but cannot be right, for `python -m bot doctor`.

A value copied unchanged from .env.example passes every shape check (`xoxb-your-bot-token`
starts with xoxb-), and ALLOWED_CHANNELS takes ids, so `#general` silently matches no channel
and the bot answers nowhere. Names of variables are reported, never their values' secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import SecretStr

from bot.settings import Settings

# The placeholders .env.example ships with all say "your-…" (xoxb-your-bot-token, your-agent-id).
_PLACEHOLDER = re.compile(r"(^|[-_/:])your[-_]", re.IGNORECASE)
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
_CHECKED = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "bedrock_agent_id",
    "bedrock_agent_alias_id",
    "agentcore_runtime_arn",
    "redis_url",
)


@dataclass(frozen=True, slots=True)
class Problem:
    name: str
    detail: str
    fix: str


def placeholders(settings: Settings) -> list[str]:
    """The variables still holding a .env.example placeholder."""
    found = []
    for name in _CHECKED:
        value = getattr(settings, name, None)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and _PLACEHOLDER.search(text):
            found.append(name.upper())
    return found


def channel_names(settings: Settings) -> list[str]:
    """ALLOWED_CHANNELS entries that are not channel ids (names like #general)."""
    return sorted(c for c in settings.allowed_channels if not _CHANNEL_ID.fullmatch(c))


def problems(settings: Settings) -> list[Problem]:
    found: list[Problem] = []
    if names := placeholders(settings):
        found.append(
            Problem(
                "placeholders",
                f"{', '.join(names)} still hold the example value of .env.example",
                "replace each with the real value (Slack app settings, the Bedrock console)",
            )
        )
    if names := channel_names(settings):
        found.append(
            Problem(
                "allowed channels",
                f"ALLOWED_CHANNELS lists {', '.join(names)}, which are not channel ids: "
                "the bot answers in no such channel",
                "use ids like C0123456789 (channel name → About → Channel ID at the bottom)",
            )
        )
    return found
