"""A per-conversation lock in Redis with a short, renewed lease: one key, so cluster-safe.

A replica that dies holding it frees the conversation within one lease (TURN_LEASE_SECONDS);
a live one renews it every third of a lease. Only the owner (its random token) can renew or
release it. If a renewal finds the lock gone or taken, `lost` is set: the owner's turn may have
been taken over, and it must stop writing (fencing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.memory.client import Client
from bot.memory.guard import STORE_ERRORS, StoreGuard

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05  # how often a waiting turn retries; a lock has no "released" event
_OUTAGE = object()

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(slots=True)
class Held:
    """A lock this process holds (or, with `shared=False`, holds only in-process)."""

    shared: bool
    token: str
    lost: bool = False


class LeaseLocks:
    def __init__(self, redis: Client, guard: StoreGuard, *, lease_seconds: float) -> None:
        self._redis = redis
        self._guard = guard
        self._lease_ms = max(1, int(lease_seconds * 1000))

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Held]:
        token = secrets.token_hex(8)
        held = Held(shared=await self._acquire(key, token), token=token)
        if not held.shared:
            yield held  # Redis failed: the caller's in-process lock still orders this replica
            return
        renewal = asyncio.create_task(self._renew(key, held), name="lock-renewal")
        try:
            yield held
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            await self._release(key, held)

    async def _acquire(self, key: str, token: str) -> bool:
        while True:
            taken = await self._guard.run(
                "turn_lock",
                lambda: self._redis.set(key, token, nx=True, px=self._lease_ms),
                fallback=_OUTAGE,
                fast=True,
            )
            if taken is _OUTAGE:
                return False
            if taken:
                return True
            await asyncio.sleep(POLL_SECONDS)  # another replica's turn in this conversation

    async def _renew(self, key: str, held: Held) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                renewed = await self._redis.eval(_RENEW, 1, key, held.token, self._lease_ms)
            except STORE_ERRORS as exc:
                log.warning("could not renew the conversation lock", extra={"error": str(exc)})
                continue
            if not renewed:
                held.lost = True
                log.warning("the conversation lock was lost: another replica may own the turn")
                return

    async def _release(self, key: str, held: Held) -> None:
        try:
            released = await self._redis.eval(_RELEASE, 1, key, held.token)
        except STORE_ERRORS as exc:
            log.warning("could not release the conversation lock", extra={"error": str(exc)})
            return
        if not released and not held.lost:
            log.warning("conversation lock was lost before release")
