"""Bolt's `authorize` for many workspaces: the event's own installation, its token kept fresh.

Bolt's stock `AsyncInstallationStoreAuthorize` calls `auth.test` on every event and refreshes
rotating tokens on whichever replica notices first; several replicas would then spend one
refresh token twice. Here the stored record already says who the bot is (no `auth.test`), and
a refresh runs under a Redis lock, one replica at a time: the others keep using the current
token while it is still valid, or wait for the lock holder and read the token it stored. A
token that still works is refreshed in the background, so the event's ack never waits on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

import aiohttp
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator

from bot import formatting
from bot.installations.store import RedisInstallationStore, installation_id

log = logging.getLogger(__name__)

REFRESH_MINUTES_BEFORE_EXPIRY = 120  # Bolt's default: tokens live 12 h, refreshed in the last 2
REFRESH_LOCK_SECONDS = 15.0  # a replica that dies mid-refresh frees the lock after this
REFRESH_WAIT_SECONDS = 10.0  # how long an event waits for another replica's refresh
RETRY_REFUSED_SECONDS = 60.0  # a refused refresh is tried again after this, not on every event


def needs_refresh(bot: Bot, *, now: float, minutes_before: int) -> bool:
    """Pure: the token expires within `minutes_before` (only rotating tokens expire)."""
    expires = bot.bot_token_expires_at
    return (
        bot.bot_refresh_token is not None
        and expires is not None
        and expires <= now + minutes_before * 60
    )


def expired(bot: Bot, *, now: float) -> bool:
    expires = bot.bot_token_expires_at
    return expires is not None and expires <= now + 5  # a few seconds of slack for the call


@dataclasses.dataclass(kw_only=True, eq=False)
class TokenRefresher:
    """One refresh per installation at a time, across replicas."""

    store: RedisInstallationStore
    rotator: AsyncTokenRotator
    minutes_before: int = REFRESH_MINUTES_BEFORE_EXPIRY
    lock_seconds: float = REFRESH_LOCK_SECONDS
    wait_seconds: float = REFRESH_WAIT_SECONDS
    refreshed: int = dataclasses.field(default=0, init=False)
    _pending: dict[str, asyncio.Task[Bot | None]] = dataclasses.field(
        default_factory=dict, init=False
    )
    _refused_until: dict[str, float] = dataclasses.field(default_factory=dict, init=False)

    async def fresh(self, bot: Bot) -> Bot | None:
        """`bot` with a token that works now, or None when none can be had.

        A token that is still valid is used as it is and refreshed behind the answer, so no
        ack waits on Slack's refresh; only an expired one waits for its refresh."""
        now = time.time()
        if not needs_refresh(bot, now=now, minutes_before=self.minutes_before):
            return bot
        if not expired(bot, now=now):
            self._refresh_later(bot)
            return bot
        inst = installation_id(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        if self._refused_until.get(inst, 0.0) > time.monotonic():
            return None  # Slack refused this refresh a moment ago: no token until reinstalled
        return await self._refresh_now(bot)

    def _refresh_later(self, bot: Bot) -> None:
        inst = installation_id(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        if inst in self._pending or self._refused_until.get(inst, 0.0) > time.monotonic():
            return  # one refresh at a time; after a refusal, not again on every event
        task = asyncio.create_task(self._refresh_now(bot), name=f"refresh-{inst}")
        self._pending[inst] = task
        task.add_done_callback(lambda _: self._pending.pop(inst, None))

    async def _refresh_now(self, bot: Bot) -> Bot | None:
        inst = installation_id(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        lock = Lock(
            self.store.redis,
            self.store.key(inst, "refreshing"),
            timeout=self.lock_seconds,
            blocking_timeout=self.wait_seconds,
        )
        try:
            if await lock.acquire(blocking=False):
                try:
                    return await self._refresh(inst)
                finally:
                    await _release(lock)
            if not expired(bot, now=time.time()):
                return bot  # another replica is refreshing; this token still works meanwhile
            if await lock.acquire():  # wait for that replica, then read what it stored
                await _release(lock)
            current = await self.store.read_bot(inst)
            if current is not None:
                self.store.remember(inst, current)
            return current
        except (RedisError, OSError, BoltError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("token refresh not possible now", extra={"error": type(exc).__name__})
            return None if expired(bot, now=time.time()) else bot

    async def _refresh(self, inst: str) -> Bot | None:
        current = await self.store.read_bot(inst)  # another replica may have just refreshed
        if current is None or not needs_refresh(
            current, now=time.time(), minutes_before=self.minutes_before
        ):
            if current is not None:
                self.store.remember(inst, current)  # this replica's cache catches up
            return current
        try:
            rotated = await self.rotator.perform_bot_token_rotation(
                bot=current, minutes_before_expiration=self.minutes_before
            )
        except SlackTokenRotationError as exc:
            reference = formatting.new_reference()
            error = exc.api_error.response.get("error") if exc.api_error else None
            log.error(
                "token refresh refused by Slack; the workspace must reinstall the app",
                extra={"reference": reference, "slack_error": error, "installation": inst},
            )
            self._refused_until[inst] = time.monotonic() + RETRY_REFUSED_SECONDS
            return None
        if rotated is None:
            return current
        await self.store.async_save_bot(rotated)
        self.refreshed += 1
        log.info("bot token refreshed", extra={"installation": inst})
        return rotated


async def _release(lock: Lock) -> None:
    try:
        await lock.release()
    except LockError:  # it expired meanwhile; the next holder owns it now
        log.warning("token refresh took longer than its lock")


class InstallationAuthorize(AsyncAuthorize):
    """Finds the event's installation (org-wide or per team) and hands Bolt its bot token."""

    def __init__(self, *, store: RedisInstallationStore, refresher: TokenRefresher) -> None:
        self._store = store
        self._refresher = refresher

    @property
    def store(self) -> RedisInstallationStore:
        return self._store

    async def bot_for(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool
    ) -> Bot | None:
        """The installation's bot with a token that works now (cached, refreshed), or None."""
        bot = await self._store.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if bot is None:
            log.warning(
                "event from a workspace with no installation",
                extra={"enterprise_id": enterprise_id, "team": team_id},
            )
            return None
        return await self._refresher.fresh(bot)

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_actors: Any,
    ) -> AuthorizeResult | None:
        bot = await self.bot_for(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=bool(context.is_enterprise_install),
        )
        if bot is None:
            return None
        return AuthorizeResult(
            enterprise_id=bot.enterprise_id,
            team_id=team_id or bot.team_id,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )
