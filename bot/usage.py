"""`python -m bot usage`: tokens and estimated cost per day (and channel), from Redis.

It reads the turns Redis still holds: the last HISTORY_MAX_TURNS of each conversation, for
HISTORY_TTL_DAYS. The Prometheus counters are the complete record; this is the per-channel view.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TextIO

from bot.events import Prices
from bot.history import KeyedTurn as KeyedTurn
from bot.history import StoredTurn
from bot.memory import STORE_ERRORS, Memory, all_turns, close, connect, memory_for
from bot.settings import ConfigError, load_settings


class Grouping(StrEnum):
    DAY = "day"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One line of the table; `channel` is "" when grouped by day only."""

    day: str
    channel: str
    turns: int
    input_tokens: int
    output_tokens: int
    cost: float


def channel_of(conversation: str, *, order_label: str = "/order") -> str:
    """The Slack channel of a conversation key; the order command's conversations as one."""
    parts = conversation.split(":")
    if len(parts) < 2:
        return "?"
    return order_label if parts[1] == "order" else parts[1]


def day_of(turn: StoredTurn) -> date | None:
    """The UTC day a turn was answered (or asked); None for seeded context without a time."""
    stamp = turn.answered_at or turn.asked_at
    return datetime.fromtimestamp(stamp, UTC).date() if stamp > 0 else None


def aggregate(
    turns: Iterable[KeyedTurn],
    *,
    by: Grouping,
    prices: Prices,
    since: date | None = None,
    order_label: str = "/order",
) -> list[UsageRow]:
    """Sum tokens per day (and channel), newest day first, costliest channel first within it.

    A turn's cost is the one estimated when it was answered (priced by the model that ran);
    older turns without one are priced with `prices`.
    """
    sums: dict[tuple[str, str], list[float]] = {}
    for keyed in turns:
        day = day_of(keyed.turn)
        if day is None or (since is not None and day < since):
            continue
        channel = channel_of(keyed.conversation, order_label=order_label)
        key = (day.isoformat(), channel if by is Grouping.CHANNEL else "")
        turn = keyed.turn
        total = sums.setdefault(key, [0, 0, 0, 0.0])
        total[0] += 1
        total[1] += turn.input_tokens
        total[2] += turn.output_tokens
        total[3] += turn.cost_usd or prices.cost(turn.input_tokens, turn.output_tokens)
    rows = [
        UsageRow(day, channel, int(n), int(tokens_in), int(tokens_out), cost)
        for (day, channel), (n, tokens_in, tokens_out, cost) in sums.items()
    ]
    # Stable sorts, least significant first: channel name, then cost, then newest day.
    rows.sort(key=lambda row: row.channel)
    rows.sort(key=lambda row: row.cost, reverse=True)
    rows.sort(key=lambda row: row.day, reverse=True)
    return rows


def total_row(rows: Sequence[UsageRow]) -> UsageRow:
    """The sum of `rows`, labelled "total"."""
    return UsageRow(
        "total",
        "",
        sum(row.turns for row in rows),
        sum(row.input_tokens for row in rows),
        sum(row.output_tokens for row in rows),
        sum(row.cost for row in rows),
    )


def render_table(rows: Sequence[UsageRow], *, by: Grouping) -> str:
    """A plain table, numbers right-aligned, with a total line."""
    header = ["day", "channel", "turns", "input tokens", "output tokens", "cost USD"]
    if by is Grouping.DAY:
        header.remove("channel")
    lines = [header]
    for row in [*rows, total_row(rows)]:
        cells = [row.day, row.channel, f"{row.turns:,}", f"{row.input_tokens:,}"]
        cells += [f"{row.output_tokens:,}", f"{row.cost:,.4f}"]
        lines.append(cells if by is Grouping.CHANNEL else [cells[0], *cells[2:]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text_columns = 2 if by is Grouping.CHANNEL else 1
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


async def load_turns(memory: Memory) -> list[KeyedTurn]:
    """Every conversation's stored turns, without their texts (only usage is counted)."""
    found = await all_turns(memory)
    return [replace(item, turn=replace(item.turn, question="", answer="")) for item in found]


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot usage", description="Tokens and estimated cost, from Redis."
    )
    parser.add_argument("--days", type=int, default=30, help="how many days back (default 30)")
    by_help = "a row per day, or per day and channel (default day)"
    parser.add_argument("--by", choices=[g.value for g in Grouping], default="day", help=by_help)
    args = parser.parse_args(list(argv))
    if args.days < 1:
        parser.error("--days must be at least 1")
    args.by = Grouping(args.by)
    return args


async def usage(
    argv: Sequence[str], *, out: TextIO | None = None, today: date | None = None
) -> int:
    """Print the usage table; 0 on success, 1 if Redis failed, 2 on bad configuration."""
    out = out or sys.stdout
    args = _arguments(argv)
    try:
        settings = load_settings()
        prices = settings.prices
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if settings.redis_url is None:
        print("REDIS_URL is not set: there is no shared store to read usage from", file=sys.stderr)
        return 2
    memory = memory_for(settings, connect(settings))
    try:
        turns = await load_turns(memory)
    except STORE_ERRORS as exc:
        print(f"cannot read Redis: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await close(memory.redis)
    since = (today or datetime.now(UTC).date()) - timedelta(days=args.days - 1)
    rows = aggregate(
        turns, by=args.by, prices=prices, since=since, order_label=settings.order_command
    )
    print(render_table(rows, by=args.by), file=out)
    price = f"USD {prices.input_per_1k} in, {prices.output_per_1k} out per 1k tokens"
    kept = f"the last {settings.history_max_turns} turns of each conversation Redis keeps"
    print(f"\nsince {since.isoformat()} UTC; {price}; counts {kept}", file=out)
    return 0


def main(argv: Sequence[str]) -> int:
    """`python -m bot usage [--days N] [--by day|channel]`."""
    return asyncio.run(usage(argv))
