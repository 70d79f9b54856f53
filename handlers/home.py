"""Opening the app's Messages tab (or a new assistant thread) shows the suggested prompts."""

from __future__ import annotations

import logging
from typing import Any

from bot.services import Services
from bot.slack_errors import classify
from handlers.listeners import Listeners

log = logging.getLogger(__name__)

PROMPTS_EVERY_SECONDS = 3600  # Slack sends app_home_opened on every visit; prompts once an hour


def register(app: Listeners, services: Services) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        channel, user = event.get("channel"), event.get("user")
        if event.get("tab") != "messages" or not channel or not user:
            return
        team = body.get("team_id", "T")
        if await services.memory.once(f"prompts:{team}:{user}", ttl_seconds=PROMPTS_EVERY_SECONDS):
            # No thread_ts: agent-style apps set prompts for the DM itself.
            await show_prompts(services, channel_id=str(channel), thread_ts=None)

    @app.event("assistant_thread_started")
    async def on_assistant_thread(event: dict[str, Any]) -> None:
        thread = event.get("assistant_thread") or {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if channel and thread_ts:
            await show_prompts(services, channel_id=str(channel), thread_ts=str(thread_ts))


async def show_prompts(services: Services, *, channel_id: str, thread_ts: str | None) -> None:
    settings = services.settings
    if not settings.suggested_prompts:
        return
    prompts = [{"title": prompt, "message": prompt} for prompt in settings.suggested_prompts]
    try:
        await services.client.api_call(
            "assistant.threads.setSuggestedPrompts",
            json={
                "channel_id": channel_id,
                "prompts": prompts,
                "title": settings.suggested_prompts_title,
                **({"thread_ts": thread_ts} if thread_ts else {}),
            },
        )
    except Exception as exc:  # prompts are a nicety: any Slack answer is only logged
        log.warning("could not show suggested prompts", extra={"slack_error": classify(exc).error})
