"""`python -m bot` runs the app; `python -m bot doctor` checks the configuration."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from bot.logs import configure_logging
from bot.settings import ConfigError, load_settings, slack_configured

USAGE = "usage: python -m bot [run | playground | doctor | usage [--days N] [--by day|channel] | installations]"


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run the app's event loop on uvloop where it is installed (Linux and macOS): the bench's
    200 concurrent answers cost the event loop ~15 % less CPU and lag less than on asyncio's
    own loop (issue #16); the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or installed without it
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "run"
    if command in {"-h", "--help", "help"}:
        print(USAGE)
        return 0
    if command == "doctor":
        from bot.doctor import doctor

        return asyncio.run(doctor())
    if command == "installations":
        from bot.installations.cli import main as installations_main

        return installations_main(args[1:])
    if command == "usage":
        from bot.usage import main as usage_main

        return usage_main(args[1:])
    if command == "playground" or (command == "run" and not args and not slack_configured()):
        # Nothing to connect to Slack with: the browser playground shows the bot instead.
        from bot.playground.runner import main as playground_main

        return playground_main(because_unconfigured=command == "run")
    if command != "run":
        print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    configure_logging(level=settings.log_level, fmt=settings.log_format.value)
    from bot.app import serve

    try:
        run(serve(settings))
    except ConfigError as exc:  # found while assembling (ACTION_HANDLERS_MODULE's contents)
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
