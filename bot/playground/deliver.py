"""What the page does becomes what Slack would send: signed Events API, command and
interactivity requests, POSTed to the bot's real `/slack/events`."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.playground.model import BOT_USER_ID, TEAM_ID, USER_ID, Message

log = logging.getLogger(__name__)

Json = dict[str, Any]
_ids = itertools.count(1)


def sign(body: str, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature: HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def event_envelope(event: Json) -> Json:
    """An Events API `event_callback` around `event`, as Slack delivers it."""
    now = int(time.time())
    return {
        "token": "playground",
        "team_id": TEAM_ID,
        "api_app_id": "A0PLAY",
        "event": event,
        "type": "event_callback",
        "event_id": f"EvPLAY{next(_ids):08d}",
        "event_time": now,
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True, "enterprise_id": None}
        ],
        "is_ext_shared_channel": False,
    }


def message_events(message: Message, *, channel_type: str, mentions_bot: bool) -> list[Json]:
    """The events Slack sends for a person's message: `message` always, and `app_mention`
    too when it mentions the bot (outside DMs)."""
    event: Json = {
        "type": "message",
        "channel": message.channel,
        "user": USER_ID,
        "text": message.text,
        "ts": message.ts,
        "event_ts": message.ts,
        "team": TEAM_ID,
        "channel_type": channel_type,
    }
    if message.thread_ts:
        event["thread_ts"] = message.thread_ts
    events = [event]
    if mentions_bot and channel_type != "im":
        events.append(
            {k: v for k, v in event.items() if k != "channel_type"} | {"type": "app_mention"}
        )
    return events


def home_opened(channel: str) -> Json:
    return {
        "type": "app_home_opened",
        "user": USER_ID,
        "channel": channel,
        "tab": "messages",
        "event_ts": f"{time.time():.6f}",
    }


def slash_command(command: str, text: str, *, channel: str, response_url: str) -> str:
    """A slash command's form body."""
    return urlencode(
        {
            "token": "playground",
            "team_id": TEAM_ID,
            "team_domain": "playground",
            "channel_id": channel,
            "channel_name": "general" if channel.startswith("C") else "directmessage",
            "user_id": USER_ID,
            "user_name": "you",
            "command": command,
            "text": text,
            "api_app_id": "A0PLAY",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{next(_ids)}.{int(time.time())}.playground",
        }
    )


@dataclass(frozen=True, slots=True)
class Click:
    """A button pressed on the page."""

    channel: str
    message_ts: str
    action_id: str
    block_id: str
    value: str
    label: str


def block_actions(click: Click, message: Message, *, response_url: str) -> str:
    """A `block_actions` interactivity body (`payload=<json>`), as Slack posts it."""
    container: Json = {
        "type": "message",
        "message_ts": click.message_ts,
        "channel_id": click.channel,
        "is_ephemeral": message.ephemeral,
    }
    if message.thread_ts:
        container["thread_ts"] = message.thread_ts
    payload: Json = {
        "type": "block_actions",
        "user": {"id": USER_ID, "username": "you", "name": "you", "team_id": TEAM_ID},
        "api_app_id": "A0PLAY",
        "token": "playground",
        "container": container,
        "trigger_id": f"{next(_ids)}.{int(time.time())}.playground",
        "team": {"id": TEAM_ID, "domain": "playground"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": click.channel, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": click.action_id,
                "block_id": click.block_id,
                "text": {"type": "plain_text", "text": click.label, "emoji": True},
                "value": click.value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if not message.ephemeral:  # Slack leaves the message out for ephemeral ones
        payload["message"] = message.api()
    return urlencode({"payload": json.dumps(payload)})


class BotDoor:
    """POSTs signed requests to the bot's `/slack/events`."""

    def __init__(self, *, http: aiohttp.ClientSession, url: str, secret: str) -> None:
        self._http = http
        self._url = url
        self._secret = secret

    async def event(self, event: Json) -> int:
        status, _ = await self._post(json.dumps(event_envelope(event)), "application/json")
        return status

    async def form(self, body: str) -> tuple[int, Json | None]:
        """A command or interactivity body; returns the status and the ack's JSON body, if any."""
        return await self._post(body, "application/x-www-form-urlencoded")

    async def _post(self, body: str, content_type: str) -> tuple[int, Json | None]:
        headers = {"Content-Type": content_type, **sign(body, self._secret)}
        async with self._http.post(self._url, data=body.encode(), headers=headers) as response:
            raw = await response.text()
        if response.status != 200:
            log.warning("the bot refused a playground request", extra={"status": response.status})
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except ValueError:
            parsed = None
        return response.status, parsed if isinstance(parsed, dict) else None
