"""The Slack app manifest installs exactly what the code listens to and calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import Bot

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yaml"

# What each subscription or Web API method the code uses needs (docs.slack.dev reference).
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "assistant_thread_started": "assistant:write",
    "app_home_opened": None,
    "app_uninstalled": None,
    "tokens_revoked": None,
}
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.startStream": "chat:write",
    "chat.postEphemeral": "chat:write",
    "assistant.threads.setStatus": "chat:write",
    "assistant.threads.setSuggestedPrompts": "assistant:write",
    "reactions.add": "reactions:write",
    "conversations.replies": "channels:history",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


async def test_every_event_the_code_handles_is_subscribed_and_nothing_else(
    bot: Bot, manifest: dict[str, Any]
) -> None:
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert bot.runtime.listeners.events == subscribed


async def test_the_slash_command_and_interactivity_are_declared(
    bot: Bot, manifest: dict[str, Any]
) -> None:
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert bot.runtime.listeners.commands <= declared
    assert bot.runtime.listeners.actions == {"feedback_up", "feedback_down"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True


def test_scopes_are_exactly_what_the_code_needs(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {s for s in (*EVENT_SCOPES.values(), *METHOD_SCOPES.values()) if s}
    needed |= {"commands", "im:read", "im:write", "groups:history"}
    assert scopes == needed


def test_every_request_url_is_the_one_events_endpoint(manifest: dict[str, Any]) -> None:
    urls = [
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert all(url.endswith("/slack/events") for url in urls)
