"""slack_sdk's `AsyncInstallationStore` on Redis: sealed records, hash-tagged keys, a short cache.

Keys of one installation share a hash tag, so Redis Cluster keeps them in one slot and one MULTI
may write them together:

    {prefix}{inst:<enterprise or ->:<team or ->}:bot          the bot token record (latest)
    {prefix}{inst:…}:installer                              the latest installation
    {prefix}{inst:…}:installer:<user>                       the latest one by that installer
    {prefix}{inst:…}:users                                  installers seen (for delete_all)
    {prefix}installations                                   index of installed ids (single-key ops)

An org-wide (Enterprise Grid) install is stored with team "-" and found for every team of the
org through Bolt's `is_enterprise_install`. Every value is a Fernet-sealed JSON record.
Lookups go through an in-process cache (`cache_seconds`), so an authorised event usually costs
no Redis round trip; a save or delete on this replica updates its cache at once, other replicas
see it within `cache_seconds` (rotated tokens stay valid long past that).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from slack_bolt.error import BoltError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.formatting import new_reference
from bot.installations import operators
from bot.installations.crypto import InvalidToken, Sealer
from bot.installations.operators import InstalledWorkspace as InstalledWorkspace
from bot.memory.client import Client as RedisClient

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0
_NONE = "-"
_STORE_ERRORS = (RedisError, OSError)


def installation_id(enterprise_id: str | None, team_id: str | None, org_wide: bool | None) -> str:
    """`E:T` naming one installation; an org-wide install covers every team (team "-")."""
    team = _NONE if org_wide else (team_id or _NONE)
    return f"{enterprise_id or _NONE}:{team}"


@dataclasses.dataclass(eq=False)
class RedisInstallationStore(AsyncInstallationStore):
    redis: RedisClient
    _: dataclasses.KW_ONLY
    prefix: str
    sealer: Sealer
    cache_seconds: float = CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    lookups: int = dataclasses.field(default=0, init=False)  # Redis reads made by find_bot
    _cache: dict[str, tuple[float, Bot]] = dataclasses.field(default_factory=dict, init=False)

    @property
    def logger(self) -> logging.Logger:
        return log

    # -- keys ---------------------------------------------------------------------------------

    def key(self, inst: str, what: str) -> str:
        return f"{self.prefix}{{inst:{inst}}}:{what}"

    @property
    def index_key(self) -> str:
        return f"{self.prefix}installations"

    # -- records ------------------------------------------------------------------------------

    def _seal(self, record: Any) -> bytes:
        return self.sealer.seal(json.dumps(vars(record), separators=(",", ":")).encode())

    def _open(self, sealed: bytes | str | None) -> dict[str, Any] | None:
        if sealed is None:
            return None
        try:
            return dict(json.loads(self.sealer.open(_as_bytes(sealed))))
        except InvalidToken:
            log.error(
                "an installation record cannot be opened: INSTALLATION_ENCRYPTION_KEY lacks the "
                "key it was sealed with"
            )
            return None

    # -- save ---------------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        inst = installation_id(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        sealed = self._seal(installation)
        user = installation.user_id or _NONE
        try:
            async with self.redis.pipeline(transaction=True) as pipe:  # one slot: one hash tag
                if installation.bot_token is not None:
                    pipe.set(self.key(inst, "bot"), self._seal(installation.to_bot()))
                pipe.set(self.key(inst, "installer"), sealed)
                pipe.set(self.key(inst, f"installer:{user}"), sealed)
                pipe.sadd(self.key(inst, "users"), user)
                await pipe.execute()
            await self.redis.sadd(self.index_key, inst)
        except _STORE_ERRORS as exc:
            # BoltError is what Bolt's OAuth flow turns into its "installation failed" page.
            raise BoltError(f"could not store the installation ({type(exc).__name__})") from exc
        self._remember(inst, installation.to_bot() if installation.bot_token else None)

    async def async_save_bot(self, bot: Bot) -> None:
        inst = installation_id(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        try:
            await self.redis.set(self.key(inst, "bot"), self._seal(bot))
            await self.redis.sadd(self.index_key, inst)
        except _STORE_ERRORS as exc:
            raise BoltError(f"could not store the bot token ({type(exc).__name__})") from exc
        self._remember(inst, bot)

    # -- find ---------------------------------------------------------------------------------

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        inst = installation_id(enterprise_id, team_id, is_enterprise_install)
        cached = self._cache.get(inst)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        try:
            bot = await self.read_bot(inst)
        except _STORE_ERRORS as exc:
            # Redis is down: a token seen recently still works better than no answer at all.
            log.warning("installation store unreachable", extra={"error": type(exc).__name__})
            return cached[1] if cached is not None else None
        self._remember(inst, bot)
        return bot

    async def read_bot(self, inst: str) -> Bot | None:
        """The bot record straight from Redis (no cache); raises Redis errors."""
        self.lookups += 1
        record = self._open(await self.redis.get(self.key(inst, "bot")))
        return Bot(**record) if record is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        inst = installation_id(enterprise_id, team_id, is_enterprise_install)
        what = f"installer:{user_id}" if user_id else "installer"
        try:
            record = self._open(await self.redis.get(self.key(inst, what)))
        except _STORE_ERRORS as exc:
            log.warning("installation store unreachable", extra={"error": type(exc).__name__})
            return None
        if record is None:
            return None
        installation = Installation(**record)
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if bot is not None:  # the bot token may have been rotated since this install
            installation.bot_token = bot.bot_token
            installation.bot_refresh_token = bot.bot_refresh_token
            installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    # -- delete -------------------------------------------------------------------------------

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        for inst in self._ids(enterprise_id, team_id):
            await self._delete(inst, ["bot"])

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        for inst in self._ids(enterprise_id, team_id):
            await self._delete(inst, [f"installer:{user_id}"] if user_id else ["installer"])

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        for inst in self._ids(enterprise_id, team_id):
            try:
                users = await self.redis.smembers(self.key(inst, "users"))
                installers = [f"installer:{_as_bytes(u).decode()}" for u in users]
                await self._delete(inst, ["bot", "installer", "users", *installers])
                await self.redis.srem(self.index_key, inst)
            except _STORE_ERRORS as exc:
                self._delete_failed(inst, exc)

    def _ids(self, enterprise_id: str | None, team_id: str | None) -> list[str]:
        # Bolt's revocation listeners pass the event's team even for an org-wide install.
        ids = [installation_id(enterprise_id, team_id, False)]
        if enterprise_id:
            ids.append(installation_id(enterprise_id, None, True))
        return ids

    async def _delete(self, inst: str, parts: list[str]) -> None:
        if "bot" in parts:
            self._cache.pop(inst, None)
        try:
            await self.redis.delete(*(self.key(inst, part) for part in parts))
        except _STORE_ERRORS as exc:
            self._delete_failed(inst, exc)

    @staticmethod
    def _delete_failed(inst: str, exc: Exception) -> None:
        # Slack does not resend an acknowledged uninstall: say loudly what is left behind.
        log.error(
            "could not delete an uninstalled installation: its sealed record stays in Redis",
            extra={"reference": new_reference(), "installation": inst, "error": type(exc).__name__},
        )

    # -- cache --------------------------------------------------------------------------------

    def _remember(self, inst: str, bot: Bot | None) -> None:
        # Misses are not cached: a workspace installed on another replica works at once.
        if bot is None:
            self._cache.pop(inst, None)
        else:
            self._cache[inst] = (self.clock() + self.cache_seconds, bot)

    def remember(self, inst: str, bot: Bot) -> None:
        """Cache `bot`, just read from Redis by the caller."""
        self._remember(inst, bot)

    def forget(self, inst: str) -> None:
        self._cache.pop(inst, None)

    # -- operators (bot/installations/operators.py) ------------------------------------------

    async def installed(self) -> list[InstalledWorkspace]:
        """Every installation in the index, newest first, without tokens."""
        return await operators.installed(self)

    async def sealed_sample(self) -> bytes | None:
        """One stored bot record as sealed (doctor checks the key opens it)."""
        return await operators.sealed_sample(self)

    async def reseal_all(self) -> int:
        """Re-seal every record with the first key (INSTALLATION_ENCRYPTION_KEY rotation)."""
        return await operators.reseal_all(self, self.sealer)


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
