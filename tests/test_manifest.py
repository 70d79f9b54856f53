"""The Slack app manifest installs exactly what the code listens to and calls."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.actions.logic import all_action_ids
from tests.harness import Bot

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "manifest.yaml"

# What each subscription or Web API method the code uses needs (docs.slack.dev/reference:
# events/*, methods/* "Scopes"). app_home_opened needs no scope of its own.
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "app_home_opened": None,
    "app_uninstalled": None,
    "tokens_revoked": None,
}
METHOD_SCOPES = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    # setStatus takes chat:write (docs.slack.dev changelog 2026-03-05, "Set status method
    # scope update"); setTitle and setSuggestedPrompts still need assistant:write.
    "assistant.threads.setStatus": "chat:write",
    "assistant.threads.setTitle": "assistant:write",
    "assistant.threads.setSuggestedPrompts": "assistant:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "conversations.replies": "channels:history",  # groups:history for private channels
    "conversations.history": "channels:history",  # im:history in DMs (takeover, top level)
}
_FAMILIES = "chat|assistant|reactions|conversations|views|users|auth|apps|oauth|team|files"
_LITERAL = re.compile(rf"\"((?:{_FAMILIES})\.[a-zA-Z.]+)\"")
_CLIENT_CALL = re.compile(rf"client\.((?:{_FAMILIES})(?:_[a-zA-Z]+)+)\(")


def slack_methods_in_code() -> set[str]:
    """Every Web API method bot/ and handlers/ name, as a string or an AsyncWebClient method."""
    found: set[str] = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]:
        if "playground" in path.parts:  # the playground's in-process Slack answers, never calls
            continue
        source = path.read_text()
        found.update(_LITERAL.findall(source))
        found.update(name.replace("_", ".") for name in _CLIENT_CALL.findall(source))
    return found


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


async def test_every_event_the_code_handles_is_subscribed_and_nothing_else(
    bot: Bot, manifest: dict[str, Any]
) -> None:
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert bot.runtime.listeners.events == subscribed
    assert "assistant_thread_started" not in subscribed  # assistant_view only


async def test_the_slash_command_and_interactivity_are_declared(
    bot: Bot, manifest: dict[str, Any]
) -> None:
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert bot.runtime.listeners.commands <= declared
    assert bot.runtime.listeners.actions == {
        "answer_feedback",
        "feedback_up",
        "feedback_down",
        *all_action_ids(),
    }
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True


def test_the_app_uses_the_agent_messaging_experience(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert "assistant_view" not in features
    agent = features["agent_view"]
    # Slack's manifest schema documents no length for agent_description; the app's short
    # description (display_information.description) allows 140, which we keep to.
    assert 0 < len(agent["agent_description"]) <= 140
    prompts = agent["suggested_prompts"]
    assert 0 < len(prompts) <= 4  # setSuggestedPrompts: "up to four suggested prompts"
    assert all(set(p) == {"title", "message"} and p["title"] and p["message"] for p in prompts)
    long_description = manifest["display_information"]["long_description"]
    assert 175 <= len(long_description) <= 4000  # the manifest schema's bounds


def test_every_slack_method_the_code_calls_has_a_known_scope() -> None:
    assert slack_methods_in_code() - {"apps.connections.open"} <= set(METHOD_SCOPES)


def test_scopes_are_exactly_what_the_code_needs(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    used = slack_methods_in_code()
    needed = {scope for method, scope in METHOD_SCOPES.items() if method in used and scope}
    needed |= {scope for scope in EVENT_SCOPES.values() if scope}
    # /order, and conversations.replies in private channels' threads.
    needed |= {"commands", "groups:history"}
    assert scopes == needed
    assert not scopes & {"im:read", "im:write"}  # no conversations.info/open on DMs


def test_every_request_url_is_the_one_events_endpoint(manifest: dict[str, Any]) -> None:
    urls = [
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert all(url.endswith("/slack/events") for url in urls)
