"""Pure: what a line typed into the page's composer is — a slash command or a message."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.playground.model import BOT_USER_ID

# "@Bedrock Agent", "@bedrock-agent", "@agent" or "@bot": all mean the bot, as Slack's
# autocomplete would have turned them into <@UBOT>.
_MENTION = re.compile(r"@(?:bedrock[ _-]?agent|agent|bot)\b", re.IGNORECASE)
_COMMAND = re.compile(r"^(/[\w-]{1,31})(?:\s+(.*))?$", re.S)


@dataclass(frozen=True, slots=True)
class Typed:
    """A composer line: `command` set for a slash command, else a message `text`."""

    text: str
    command: str | None = None
    mentions_bot: bool = False


def parse_composer(line: str) -> Typed | None:
    """None for an empty line."""
    line = line.strip()
    if not line:
        return None
    command = _COMMAND.match(line)
    if command:
        return Typed(text=(command.group(2) or "").strip(), command=command.group(1).lower())
    text, mentions = _MENTION.subn(f"<@{BOT_USER_ID}>", line)
    return Typed(text=text, mentions_bot=mentions > 0 or f"<@{BOT_USER_ID}>" in line)
