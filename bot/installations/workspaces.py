"""Work that no Slack request carries — a takeover, a confirmation expiring — in OAuth mode.

Outside a request the process-wide client (bot/installations/routing.py) has no token, and
must not borrow another workspace's. Such work names the workspace of what it finishes (the
team and enterprise id recorded with the in-flight turn or the pending confirmation) and runs
inside `Workspaces.speaking_for`, which binds that installation's own client the way a request
does, found through the same `authorize` (its cache, its token refresh). With one workspace and
SLACK_BOT_TOKEN there is no `Workspaces`: the bot's one client speaks for it as before.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.installations.authorize import InstallationAuthorize
from bot.installations.routing import speaking_as

log = logging.getLogger(__name__)


class SpeakFor(Protocol):
    """Binds one workspace's client for the block; yields False when it has no installation."""

    def __call__(
        self, team_id: str, enterprise_id: str | None
    ) -> AbstractAsyncContextManager[bool]: ...


class Workspaces:
    def __init__(self, *, authorize: InstallationAuthorize, client: AsyncWebClient) -> None:
        self._authorize = authorize
        self._client = client  # the process-wide one: its pooled session and API URL

    @property
    def authorize(self) -> InstallationAuthorize:
        return self._authorize

    async def client_for(self, team_id: str, enterprise_id: str | None) -> AsyncWebClient | None:
        """That workspace's own client: its team's installation, else its org-wide one."""
        bot = await self._authorize.bot_for(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=False
        )
        if bot is None and enterprise_id:
            bot = await self._authorize.bot_for(
                enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=True
            )
        if bot is None:
            return None
        return AsyncWebClient(
            token=bot.bot_token,
            base_url=self._client.base_url,
            session=self._client.session,
            timeout=self._client.timeout,
            retry_handlers=[],  # as the process-wide client: bot/slack_calls.py decides
            # An org token speaks for many teams: Slack needs to know which one.
            team_id=team_id if bot.is_enterprise_install else None,
        )

    @asynccontextmanager
    async def speaking_for(self, team_id: str, enterprise_id: str | None) -> AsyncIterator[bool]:
        client = await self.client_for(team_id, enterprise_id)
        if client is None:
            log.warning(
                "no installation to finish this work with",
                extra={"team": team_id, "enterprise_id": enterprise_id},
            )
            yield False
            return
        with speaking_as(client):
            yield True
