"""Opening the app's Messages tab (its chat, in the agent messaging experience) shows prompts."""

from __future__ import annotations

from typing import Any

from bot import agent_view
from bot.services import Services
from handlers.listeners import Listeners

PROMPTS_EVERY_SECONDS = 3600  # Slack sends app_home_opened on every visit; prompts once an hour


def register(app: Listeners, services: Services) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        # agent_view apps get app_home_opened (tab "messages") where assistant_view apps got
        # assistant_thread_started: the chat opens on the DM itself, with no thread yet.
        channel, user = event.get("channel"), event.get("user")
        if event.get("tab") != "messages" or not channel or not user:
            return
        team = body.get("team_id", "T")
        if await services.memory.once(f"prompts:{team}:{user}", ttl_seconds=PROMPTS_EVERY_SECONDS):
            settings = services.settings
            await agent_view.show_prompts(
                services.client,
                channel=str(channel),
                prompts=settings.suggested_prompts,
                title=settings.suggested_prompts_title,
            )
