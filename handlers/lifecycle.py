"""`app_uninstalled` / `tokens_revoked`: a workspace that removes the app is forgotten.

In OAuth mode its installation (sealed tokens) is deleted, so nothing can speak for it any
more, and a reinstall starts clean; with DELETE_CONVERSATIONS_ON_UNINSTALL its conversations go
too. Slack sends these events without a usable token, so Bolt skips `authorize` for them. With
one workspace and one SLACK_BOT_TOKEN there is nothing stored: the event is logged, as the
token has stopped working.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.installations.forget import delete_team_conversations
from bot.services import Services
from handlers.listeners import Listeners

log = logging.getLogger(__name__)


def register(app: Listeners, services: Services) -> None:
    store = app.app.installation_store

    async def forget_conversations(context: AsyncBoltContext) -> None:
        if not services.settings.delete_conversations_on_uninstall:
            return
        if not context.team_id:  # an org-wide uninstall names no team; keys are per team
            log.warning(
                "org-wide uninstall: conversations are kept until they expire",
                extra={"enterprise_id": context.enterprise_id},
            )
            return
        deleted = await delete_team_conversations(services.memory, context.team_id)
        if deleted is not None:
            log.info(
                "workspace conversations deleted", extra={"team": context.team_id, "keys": deleted}
            )

    async def forget_installation(
        context: AsyncBoltContext, *, bot_only: bool, warning: str, done: str
    ) -> None:
        """The token stopped working: its installation (all of it, or the bot's) is deleted."""
        ids = {"enterprise_id": context.enterprise_id, "team": context.team_id}
        if store is None:
            log.warning(f"{warning}: SLACK_BOT_TOKEN no longer works", extra=ids)
            return
        delete = store.async_delete_bot if bot_only else store.async_delete_all
        await delete(enterprise_id=context.enterprise_id, team_id=context.team_id)
        log.info(f"{done}: installation deleted", extra=ids)
        await forget_conversations(context)

    @app.event("app_uninstalled")
    async def on_uninstalled(context: AsyncBoltContext) -> None:
        warning, done = "the app was uninstalled", "app uninstalled"
        await forget_installation(context, bot_only=False, warning=warning, done=done)

    @app.event("tokens_revoked")
    async def on_tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if not (event.get("tokens") or {}).get("bot"):
            return  # user tokens only: this app stores none
        warning, done = "the bot token was revoked", "bot token revoked"
        await forget_installation(context, bot_only=True, warning=warning, done=done)
