"""`python -m bench`: what users feel, measured on this machine against the fakes.

Starts the fake Slack (with Slack's per-workspace rate limits) and the fake Bedrock Agent
Runtime in this process, runs the real bot as a separate process (HTTP mode, real Redis), and
drives it with signed Events API requests. Prints a table and writes bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import time
from pathlib import Path
from typing import Any

from bench.harness import SLACK_BURSTS, SLACK_LIMITS, BotProcess
from bench.scenarios import (
    PARAGRAPH,
    Agent,
    burst_with_duplicates,
    run_conversations,
    time_to_first_text,
)
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.fakes.slack import FakeSlack

RESULTS = Path(__file__).with_name("results.json")
TARGETS = {
    "ack_ms_p99 (200 conversations)": (
        "< 50",
        lambda r: r["concurrent_200"]["ack_ms_p99"],
        lambda v: v < 50,
    ),
    "duplicate answers (all scenarios)": (
        "0",
        lambda r: sum(s.get("duplicate_answers", 0) for s in r.values() if isinstance(s, dict)),
        lambda v: v == 0,
    ),
    "first visible text after first chunk, p50 (single, native)": (
        "≤ 150 ms",
        lambda r: r["single"]["first_visible_ms_p50"],
        lambda v: v <= 150,
    ),
    "time to first text vs non-streaming baseline (10 s answer)": (
        "≥ 10× sooner",
        lambda r: r["baseline_ratio"],
        lambda v: v >= 10,
    ),
    "final text after last chunk, p99 (200 conversations)": (
        "≤ 1000 ms",
        lambda r: r["concurrent_200"]["final_after_last_chunk_ms_p99"],
        lambda v: v <= 1000,
    ),
    "Slack writes answered 429 (200 conversations)": (
        "≤ 5 %",
        lambda r: 100 * r["concurrent_200"]["slack_429_share_of_writes"],
        lambda v: v <= 5,
    ),
    "event-loop lag p99 (200 conversations)": (
        "< 20 ms",
        lambda r: r["concurrent_200"]["event_loop_lag_ms_p99"],
        lambda v: v < 20,
    ),
    "peak RSS (200 conversations)": (
        "< 250 MB",
        lambda r: r["concurrent_200"]["peak_rss_mb"],
        lambda v: v < 250,
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slack_like_limits(slack: FakeSlack) -> None:
    """Slack's per-workspace tiers, with fresh buckets (as if a quiet minute had passed)."""
    slack.set_limits(SLACK_LIMITS, burst=SLACK_BURSTS, per_channel=frozenset({"chat.postMessage"}))


async def run(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with FakeSlack() as slack, FakeBedrockAgentRuntime() as bedrock:
        agent = Agent(bedrock)
        bot = BotProcess(slack, bedrock, port=free_port())
        baseline = BotProcess(slack, bedrock, port=free_port(), SLACK_STREAMING="off")
        await bot.start()
        await baseline.start()
        many = 50 if quick else 200
        text = PARAGRAPH * 4  # ≈ 600 characters, 20 at a time every 50 ms (≈ 400 a second)
        common = {"text": text, "interval": 0.05}
        crowd = {"text": PARAGRAPH * 8, "interval": 0.05}
        try:
            results["single"] = await run_conversations(
                bot,
                slack,
                bedrock,
                agent,
                count=5 if quick else 20,
                channels=1,
                spread=5 if quick else 20,
                first_delay=0.3,
                within=30,
                label="single",
                **common,
            )
            # 200 questions arrive over 3 s; each answer takes about 4 s (first chunk after 1 s,
            # then ≈ 1,200 characters at 400 a second), so all 200 are in flight together.
            results["concurrent_200_no_limits"] = await run_conversations(
                bot,
                slack,
                bedrock,
                agent,
                count=many,
                channels=40,
                spread=3.0,
                first_delay=1.0,
                within=60,
                label="nolimit",
                **crowd,
            )
            slack_like_limits(slack)
            results["concurrent_200"] = await run_conversations(
                bot,
                slack,
                bedrock,
                agent,
                count=many,
                channels=40,
                spread=3.0,
                first_delay=1.0,
                within=90,
                label="concurrent",
                **crowd,
            )
            slack_like_limits(slack)
            results["long_10000_chars"] = await run_conversations(
                bot,
                slack,
                bedrock,
                agent,
                count=1,
                channels=1,
                spread=0,
                first_delay=0.5,
                text=(PARAGRAPH + "\n\n") * 60,
                interval=0.02,
                within=60,
                label="long",
            )
            slack_like_limits(slack)
            results["burst_500_with_duplicates"] = await burst_with_duplicates(
                bot, slack, bedrock, agent, events=100 if quick else 500, seconds=5.0
            )
            slack.set_limits({})
            streaming = await time_to_first_text(
                bot, slack, bedrock, agent, label="stream", seconds=10
            )
            plain = await time_to_first_text(
                baseline, slack, bedrock, agent, label="plain", seconds=10
            )
            results["streaming_10s_answer"], results["baseline_10s_answer"] = streaming, plain
            results["baseline_ratio"] = round(
                plain["question_to_first_text_ms"] / max(1, streaming["question_to_first_text_ms"]),
                1,
            )
        finally:
            await bot.stop()
            await baseline.stop()
    return results


def table(results: dict[str, Any]) -> str:
    scenarios = [k for k, v in results.items() if isinstance(v, dict) and "conversations" in v]
    rows = [
        "ack_ms_p50",
        "ack_ms_p99",
        "first_visible_ms_p50",
        "first_visible_ms_p99",
        "final_after_last_chunk_ms_p50",
        "final_after_last_chunk_ms_p99",
        "slack_writes_per_answer",
        "slack_429",
        "slack_429_share_of_writes",
        "event_loop_lag_ms_p99",
        "peak_rss_mb",
        "complete_answers",
        "duplicate_answers",
    ]
    lines = ["| figure | " + " | ".join(scenarios) + " |", "|---|" + "---|" * len(scenarios)]
    for row in rows:
        cells = [_fmt(results[s].get(row)) for s in scenarios]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| target | goal | measured | met |")
    lines.append("|---|---|---|---|")
    for name, (goal, get, ok) in TARGETS.items():
        try:
            value = get(results)
            lines.append(f"| {name} | {goal} | {_fmt(value)} | {'yes' if ok(value) else 'NO'} |")
        except (KeyError, TypeError):
            lines.append(f"| {name} | {goal} | n/a | NO |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 1 else f"{value:.1f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller scenarios (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.monotonic()
    results = asyncio.run(run(args.quick))
    results["meta"] = {
        "seconds": round(time.monotonic() - started, 1),
        "quick": args.quick,
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "slack_limits_per_minute": SLACK_LIMITS,
        "slack_bursts": SLACK_BURSTS,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\n{results['meta']['seconds']} s; results in {args.out}")


if __name__ == "__main__":
    main()
