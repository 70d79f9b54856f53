"""What operators do with the installation store (`python -m bot installations`, doctor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.installations.crypto import Sealer

if TYPE_CHECKING:
    from bot.installations.store import RedisInstallationStore


@dataclass(frozen=True, slots=True)
class InstalledWorkspace:
    """What `python -m bot installations` lists (no token in it)."""

    enterprise_id: str | None
    enterprise_name: str | None
    team_id: str | None
    team_name: str | None
    org_wide: bool
    rotating: bool
    installed_at: float


async def installed(store: RedisInstallationStore) -> list[InstalledWorkspace]:
    """Every installation in the index, newest first, without tokens."""
    found: list[InstalledWorkspace] = []
    for raw in sorted(await store.redis.smembers(store.index_key)):
        inst = raw.decode() if isinstance(raw, bytes) else str(raw)
        bot = await store.read_bot(inst)
        if bot is None:
            continue
        found.append(
            InstalledWorkspace(
                enterprise_id=bot.enterprise_id,
                enterprise_name=bot.enterprise_name,
                team_id=bot.team_id,
                team_name=bot.team_name,
                org_wide=bool(bot.is_enterprise_install),
                rotating=bot.bot_refresh_token is not None,
                installed_at=bot.installed_at,
            )
        )
    return sorted(found, key=lambda w: w.installed_at, reverse=True)


async def sealed_sample(store: RedisInstallationStore) -> bytes | None:
    """One stored bot record as sealed (doctor checks the key opens it)."""
    for raw in await store.redis.smembers(store.index_key):
        inst = raw.decode() if isinstance(raw, bytes) else str(raw)
        sealed = await store.redis.get(store.key(inst, "bot"))
        if sealed is not None:
            return _as_bytes(sealed)
    return None


async def reseal_all(store: RedisInstallationStore, sealer: Sealer) -> int:
    """Re-seal every record with the first key (INSTALLATION_ENCRYPTION_KEY rotation)."""
    count = 0
    for raw in await store.redis.smembers(store.index_key):
        inst = raw.decode() if isinstance(raw, bytes) else str(raw)
        users = await store.redis.smembers(store.key(inst, "users"))
        parts = ["bot", "installer"]
        parts += [f"installer:{u.decode() if isinstance(u, bytes) else u}" for u in users]
        for part in parts:
            sealed = await store.redis.get(store.key(inst, part))
            if sealed is not None:
                await store.redis.set(store.key(inst, part), sealer.reseal(_as_bytes(sealed)))
                count += 1
    return count


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
