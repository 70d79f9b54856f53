"""Signed Slack requests for driving the bot's HTTP endpoints (Events API, commands, actions)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_event_ids = itertools.count(1)


def signed_headers(
    body: bytes | str, secret: str, *, timestamp: int | None = None
) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature (v0 HMAC-SHA256 of "v0:{ts}:{body}")."""
    ts = int(time.time()) if timestamp is None else timestamp
    raw = body if isinstance(body, bytes) else body.encode()
    digest = hmac.new(secret.encode(), b"v0:%d:" % ts + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def event_envelope(
    event: dict[str, Any],
    *,
    team_id: str = "T0001",
    event_id: str | None = None,
    api_app_id: str = "A0001",
    bot_user_id: str = "UBOT",
) -> dict[str, Any]:
    """An Events API `event_callback` envelope around `event` (fresh event_id by default)."""
    now = int(time.time())
    return {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):010d}",
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{team_id}-{now}",
    }


def event_body(event: dict[str, Any], **envelope: Any) -> tuple[str, str]:
    """(JSON body, content type) of an `event_callback`; kwargs go to `event_envelope`."""
    return json.dumps(event_envelope(event, **envelope)), JSON_CONTENT_TYPE


def slash_command_body(
    command: str,
    text: str = "",
    *,
    user_id: str = "U0001",
    channel_id: str = "C0001",
    team_id: str = "T0001",
    response_url: str = "https://hooks.slack.com/commands/T0001/1/x",
    trigger_id: str = "1337.42.trigger",
) -> str:
    """URL-encoded slash command body (send with `FORM_CONTENT_TYPE`)."""
    return urlencode(
        {
            "token": "verification-token",
            "team_id": team_id,
            "team_domain": "fake-workspace",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interaction_body(payload: dict[str, Any]) -> str:
    """`payload=<json>` form body of an interactivity request (send with `FORM_CONTENT_TYPE`)."""
    return urlencode({"payload": json.dumps(payload)})
