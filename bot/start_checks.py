"""Start-up checks that only warn: the bot starts anyway and degrades, but says so at once."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from bot.limits import REDIS_START_CHECK_SECONDS
from bot.services import Services

log = logging.getLogger(__name__)


async def warn_if_redis_unreachable(services: Services) -> None:
    """REDIS_URL set but wrong is as bad as unset (no memory, no shared dedup): say so at once,
    not only in /readyz."""
    url = services.settings.redis_url
    if url is None:
        return
    try:
        # A PING is enough for a warning (readiness does the keyed write) and leaves no key.
        ok = await asyncio.wait_for(services.memory.redis.ping(), timeout=REDIS_START_CHECK_SECONDS)
        error = "" if ok else "no PONG"
    except Exception as exc:  # the store degrades by itself; this is only the operator's warning
        error = type(exc).__name__
    if error:
        where = urlsplit(url.get_secret_value())  # host and port only: never the password
        log.warning(
            "REDIS_URL is set but Redis is unreachable: answering without memory until it is back",
            extra={"redis": f"{where.hostname}:{where.port or 6379}", "error": error},
        )
