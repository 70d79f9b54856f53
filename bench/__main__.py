"""`python -m bench`: what users feel, measured on this machine against the fakes.

Starts the fake Slack (with Slack's per-workspace rate limits) and the fake Bedrock Agent
Runtime in this process, runs the real bot as a separate process (HTTP mode, real Redis), and
drives it with signed Events API requests. Prints a table and writes the results to
bench/results.local.json; `--save` writes the committed bench/results.json instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.harness import SLACK_BURSTS, SLACK_LIMITS, BotProcess
from bench.pressure import peer, sustained_429, window_429
from bench.scenarios import (
    PARAGRAPH,
    Agent,
    burst_with_duplicates,
    run_conversations,
    time_to_first_text,
)
from bench.targets import TARGETS
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.fakes.slack import FakeSlack

RESULTS = Path(__file__).with_name("results.json")
LOCAL_RESULTS = Path(__file__).with_name("results.local.json")
ROWS = [
    "ack_ms_p50",
    "ack_ms_p99",
    "sign_of_life_ms_p50",
    "sign_of_life_ms_p99",
    "first_visible_ms_p50",
    "first_visible_ms_p99",
    "final_after_last_chunk_ms_p50",
    "final_after_last_chunk_ms_p99",
    "slack_writes_per_answer",
    "slack_429",
    "slack_429_share_of_writes",
    "cpu_ms_per_answer",
    "loop_cpu_ms_per_answer",
    "event_loop_lag_ms_p99",
    "peak_rss_mb",
    "complete_answers",
    "duplicate_answers",
    "signs_left_behind",
    "cleared_after_s",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slack_like_limits(slack: FakeSlack) -> None:
    """Slack's per-workspace tiers, with fresh buckets (as if a quiet minute had passed)."""
    slack.set_limits(SLACK_LIMITS, burst=SLACK_BURSTS, per_channel=frozenset({"chat.postMessage"}))


class Bench:
    """The fakes, the bots under test and every scenario by name."""

    def __init__(self, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime, *, quick: bool) -> None:
        self.slack, self.bedrock, self.quick = slack, bedrock, quick
        self.agent = Agent(bedrock)
        self.bots: dict[str, BotProcess] = {}

    async def bot(self, mode: str = "auto", profile: Path | None = None) -> BotProcess:
        if mode not in self.bots:
            bot = BotProcess(
                self.slack, self.bedrock, port=free_port(), profile=profile, SLACK_STREAMING=mode
            )
            await bot.start()
            self.bots[mode] = bot
        return self.bots[mode]

    async def conversations(self, label: str, *, limits: bool, **kwargs: Any) -> dict[str, Any]:
        if limits:
            slack_like_limits(self.slack)
        else:
            self.slack.set_limits({})
        bot = await self.bot()
        return await run_conversations(
            bot, self.slack, self.bedrock, self.agent, label=label, **kwargs
        )

    def scenarios(self) -> dict[str, Callable[[], Awaitable[Any]]]:
        many = 50 if self.quick else 200
        # ≈ 600 characters, 20 at a time every 50 ms (≈ 400 a second)
        common = {"text": PARAGRAPH * 4, "interval": 0.05}
        # 200 questions arrive over 3 s; each answer takes about 4 s (first chunk after 1 s,
        # then ≈ 1,200 characters at 400 a second), so all 200 are in flight together.
        crowd = {"text": PARAGRAPH * 8, "interval": 0.05, "count": many, "channels": 40}
        crowd |= {"spread": 3.0, "first_delay": 1.0}
        single = {
            "count": 5 if self.quick else 20,
            "channels": 1,
            "spread": 5 if self.quick else 20,
        }
        long = {"count": 1, "channels": 1, "spread": 0, "first_delay": 0.5, "interval": 0.02}
        long |= {"text": (PARAGRAPH + "\n\n") * 60, "within": 60}
        return {
            "single": lambda: self.conversations(
                "single", limits=False, first_delay=0.3, within=30, **single, **common
            ),
            "peer_1": lambda: self._peer(1),
            "peer_20": lambda: self._peer(20),
            # Single answers under one fault each, before the crowds leave pressure behind.
            "window_429": self._window,
            "sustained_429_update": self._sustained,
            "concurrent_200_no_limits": lambda: self.conversations(
                "nolimit", limits=False, within=60, **crowd
            ),
            "concurrent_200": lambda: self.conversations(
                "concurrent", limits=True, within=90, **crowd
            ),
            "long_10000_chars": lambda: self.conversations("long", limits=True, **long),
            "burst_500_with_duplicates": self._burst,
            "streaming_10s_answer": lambda: self._first_text("auto", "stream"),
            "baseline_10s_answer": lambda: self._first_text("off", "plain"),
        }

    async def _peer(self, count: int) -> dict[str, Any]:
        self.slack.set_limits({})
        bot = await self.bot()
        return await peer(bot, self.slack, self.bedrock, self.agent, count=count, label="peer")

    async def _burst(self) -> dict[str, Any]:
        slack_like_limits(self.slack)
        events = 100 if self.quick else 500
        bot = await self.bot()
        return await burst_with_duplicates(
            bot, self.slack, self.bedrock, self.agent, events=events, seconds=5.0
        )

    async def _window(self) -> dict[str, Any]:
        self.slack.set_limits({})
        return await window_429(await self.bot(), self.slack, self.bedrock, self.agent)

    async def _sustained(self) -> dict[str, Any]:
        self.slack.set_limits({})
        bot = await self.bot("update")
        return await sustained_429(bot, self.slack, self.bedrock, self.agent)

    async def _first_text(self, mode: str, label: str) -> dict[str, Any]:
        self.slack.set_limits({})
        bot = await self.bot(mode)
        return await time_to_first_text(
            bot, self.slack, self.bedrock, self.agent, label=label, seconds=10
        )

    async def stop(self) -> None:
        """Stop every bot, also when one of them does not stop in time (then say which)."""
        results = await asyncio.gather(
            *(bot.stop() for bot in self.bots.values()), return_exceptions=True
        )
        for failure in (r for r in results if isinstance(r, BaseException)):
            raise failure


async def run(quick: bool, only: list[str], profile: Path | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with FakeSlack() as slack, FakeBedrockAgentRuntime() as bedrock:
        bench = Bench(slack, bedrock, quick=quick)
        scenarios = bench.scenarios()
        unknown = set(only) - set(scenarios)
        if unknown:
            raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        if profile is not None:
            await bench.bot(profile=profile)
        try:
            for name, scenario in scenarios.items():
                if not only or name in only:
                    results[name] = await scenario()
                    print(f"{name}: done", flush=True)
        finally:
            await bench.stop()
    plain, streaming = results.get("baseline_10s_answer"), results.get("streaming_10s_answer")
    if plain and streaming:
        first = max(1, streaming["question_to_first_text_ms"] or 1)
        results["baseline_ratio"] = round(plain["question_to_first_text_ms"] / first, 1)
    return results


def table(results: dict[str, Any]) -> str:
    scenarios = [k for k, v in results.items() if isinstance(v, dict) and "conversations" in v]
    lines = ["| figure | " + " | ".join(scenarios) + " |", "|---|" + "---|" * len(scenarios)]
    for row in ROWS:
        cells = [_fmt(results[s].get(row)) for s in scenarios]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", "| target | goal | measured | met |", "|---|---|---|---|"]
    for name, (goal, get, ok) in TARGETS.items():
        try:
            value = get(results)
            lines.append(f"| {name} | {goal} | {_fmt(value)} | {'yes' if ok(value) else 'NO'} |")
        except (KeyError, TypeError):
            lines.append(f"| {name} | {goal} | n/a | – |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 1 else f"{value:.1f}"
    return str(value)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller scenarios (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--save", action="store_true", help=f"write {RESULTS.name} (committed)")
    parser.add_argument("--out", type=Path, help=f"results file (default {LOCAL_RESULTS.name})")
    parser.add_argument("--profile", type=Path, help="run the bot under cProfile, stats here")
    args = parser.parse_args()
    out = args.out or (RESULTS if args.save else LOCAL_RESULTS)
    only = [name for name in args.only.split(",") if name]
    started, load_before = time.monotonic(), _load()
    results = asyncio.run(run(args.quick, only, args.profile))
    results["meta"] = {
        "seconds": round(time.monotonic() - started, 1),
        "quick": args.quick,
        "only": only,
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "cpus": os.cpu_count(),
        # 1, 5 and 15 minute load averages: the cores are shared, so compare runs with this.
        "load_before": load_before,
        "load_after": _load(),
        "slack_limits_per_minute": SLACK_LIMITS,
        "slack_bursts": SLACK_BURSTS,
    }
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\n{results['meta']['seconds']} s; load {load_before} → {results['meta']['load_after']}")
    print(f"results in {out}")


if __name__ == "__main__":
    main()
