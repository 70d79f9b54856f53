"""`python -m bot installations [list | new-key | rotate-key]`: the operator's view of OAuth mode.

`list` prints the installed workspaces and orgs (never a token); `new-key` prints a fresh
Fernet key for INSTALLATION_ENCRYPTION_KEY; `rotate-key` re-seals every stored installation
with the first key of INSTALLATION_ENCRYPTION_KEY, after which older keys may be dropped.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from redis.exceptions import RedisError

from bot.installations.crypto import new_key
from bot.installations.oauth import build_stores
from bot.installations.store import InstalledWorkspace
from bot.memory import connect, memory_for
from bot.settings import ConfigError, load_settings

USAGE = "usage: python -m bot installations [list | new-key | rotate-key]"


def describe(workspace: InstalledWorkspace) -> str:
    """Pure: one line per installation."""
    if workspace.org_wide:
        who = f"org {workspace.enterprise_name or ''} ({workspace.enterprise_id}), org-wide"
    else:
        who = f"{workspace.team_name or ''} ({workspace.team_id})"
        if workspace.enterprise_id:
            who += f" in org {workspace.enterprise_id}"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(workspace.installed_at))
    rotation = ", token rotation" if workspace.rotating else ""
    return f"{who.strip()}: installed {when}{rotation}"


async def _run(command: str, out: TextIO) -> int:
    settings = load_settings()
    if not settings.oauth_mode:
        print("not in OAuth mode: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET", file=sys.stderr)
        return 2
    memory = memory_for(settings, connect(settings))
    store = build_stores(settings, memory.redis)
    try:
        if command == "rotate-key":
            print(f"re-sealed {await store.reseal_all()} records with the first key", file=out)
            return 0
        installed = await store.installed()
    except (RedisError, OSError) as exc:
        print(f"cannot read the installations: Redis {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        await memory.redis.aclose()
    for workspace in installed:
        print(describe(workspace), file=out)
    print(f"{len(installed)} installation(s)", file=out)
    return 0


def main(args: list[str], *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    command = args[0] if args else "list"
    if command == "new-key":
        print(new_key(), file=out)
        return 0
    if command not in {"list", "rotate-key"}:
        print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(command, out))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
