"""The benchmark's moving parts: the bot as a separate process, the fakes, and the figures."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.__main__ import wait_ready
from tests.fakes.bedrock import FakeBedrockAgentRuntime, Invocation
from tests.fakes.signing import event_envelope, signed_headers
from tests.fakes.slack import Call, FakeSlack
from tests.harness import AWS_ENV, SIGNING_SECRET, bot_env

WRITES = frozenset(
    {"chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"}
)
SIGNS_OF_LIFE = WRITES | {"reactions.add", "assistant.threads.setStatus"}
# Slack's documented tiers, per workspace and method (calls a minute), with short bursts.
SLACK_LIMITS = {
    "chat.startStream": 20,  # Tier 2
    "chat.stopStream": 20,
    "chat.update": 50,  # Tier 3
    "chat.delete": 50,
    "reactions.add": 50,
    "reactions.remove": 50,
    "conversations.replies": 50,
    "chat.appendStream": 100,  # Tier 4
    "assistant.threads.setStatus": 100,
    "chat.postMessage": 60,  # special: about one a second per channel
}
SLACK_BURSTS = {
    "chat.startStream": 10,
    "chat.stopStream": 10,
    "chat.update": 20,
    "chat.delete": 20,
    "reactions.add": 20,
    "reactions.remove": 20,
    "conversations.replies": 20,
    "chat.appendStream": 40,
    "assistant.threads.setStatus": 40,
    "chat.postMessage": 5,
}


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


class BotProcess:
    """`python -m bot` in HTTP mode against the fakes and the real Redis."""

    def __init__(
        self,
        slack: FakeSlack,
        bedrock: FakeBedrockAgentRuntime,
        *,
        port: int,
        profile: Path | None = None,
        **env: str,
    ) -> None:
        self.profile = profile
        self.url = f"http://127.0.0.1:{port}"
        prefix = f"bench:{os.getpid()}:{port}:{time.time_ns()}:"
        self.env = (
            os.environ | AWS_ENV | bot_env(slack, bedrock, prefix) | {"PORT": str(port)} | env
        )
        # The product's defaults, not the test suite's fast ones.
        self.env |= {"STREAM_UPDATE_INTERVAL_MS": "800", "AGENT_RETRY_BASE_SECONDS": "0.5"} | env
        self.env.setdefault("LOG_LEVEL", "WARNING")
        self.process: asyncio.subprocess.Process | None = None
        # The bot's warnings and errors (LOG_LEVEL=WARNING) are kept for when it misbehaves.
        self._log_fd, log_path = tempfile.mkstemp(prefix="bench-bot-", suffix=".log")
        self._log_path = Path(log_path)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))

    async def start(self) -> None:
        # The profile is written when the bot exits cleanly (SIGTERM drains and returns).
        command = ["-m", "bench.profiled", str(self.profile)] if self.profile else ["-m", "bot"]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *command, env=self.env, stderr=self._log_fd
        )
        await wait_ready(self.url)
        if self.profile:
            self.process.send_signal(signal.SIGUSR1)

    async def stop(self) -> None:
        await self.http.close()
        if self.process and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                raise RuntimeError(
                    f"the bot did not stop within 30 s of SIGTERM; its log, {self._log_path},"
                    " ends:\n" + self._log_tail()
                ) from None
        os.close(self._log_fd)
        self._log_path.unlink(missing_ok=True)

    def _log_tail(self, lines: int = 20) -> str:
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    def peak_rss_mb(self) -> float:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]

    def cpu_seconds(self, *, loop_only: bool = False) -> float:
        """User + system CPU time the bot process (or its event-loop thread) has used so far."""
        assert self.process is not None
        pid = self.process.pid
        stat = Path(f"/proc/{pid}/task/{pid}/stat" if loop_only else f"/proc/{pid}/stat")
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def send(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int = 0
    ) -> float:
        """Post a signed event; returns the ack latency in milliseconds."""
        body = json.dumps(event_envelope(event, event_id=event_id))
        headers = {"Content-Type": "application/json", **signed_headers(body, SIGNING_SECRET)}
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        started = time.perf_counter()
        async with self.http.post(f"{self.url}/slack/events", data=body, headers=headers) as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        return (time.perf_counter() - started) * 1000

    async def loop_lag_buckets(self) -> dict[float, float]:
        async with self.http.get(f"{self.url}/metrics") as resp:
            text = await resp.text()
        buckets: dict[float, float] = {}
        for le, count in re.findall(
            r'slackbot_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', text
        ):
            buckets[math.inf if le == "+Inf" else float(le)] = float(count)
        return buckets


def lag_p99_ms(before: dict[float, float], after: dict[float, float]) -> float | None:
    """p99 event-loop lag between two /metrics readings (upper bound of its bucket)."""
    counts = {le: after[le] - before.get(le, 0.0) for le in after}
    total = counts.get(math.inf, 0.0)
    if total <= 0:
        return None
    for le in sorted(counts):
        if counts[le] >= 0.99 * total:
            return le * 1000
    return None


def mention_event(question: str, *, channel: str, ts: str, user: str = "U0BENCH") -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOT> {question}",
        "ts": ts,
        "channel": channel,
        "team": "T0001",
        "event_ts": ts,
    }


@dataclass
class Conversation:
    """One question and what the fakes saw of its answer."""

    question: str
    channel: str
    thread_ts: str
    answer: str
    ack_ms: float = 0.0
    asked_at: float | None = None
    invocations: list[Invocation] = field(default_factory=list)
    writes: list[Call] = field(default_factory=list)
    signs: list[Call] = field(default_factory=list)

    def collect(self, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime) -> None:
        session = f"T0001:{self.channel}:{self.thread_ts}:"
        self.invocations = [i for i in bedrock.invocations if i.session_id.startswith(session)]
        message_ts = {m.ts for m in slack.thread(self.channel, self.thread_ts)}
        self.writes, self.signs = [], []
        for c in slack.calls:
            channel = c.args.get("channel") or c.args.get("channel_id")
            if channel != self.channel:
                continue
            mine = c.args.get("thread_ts") == self.thread_ts or c.args.get("ts") in message_ts
            if c.method in WRITES and mine:
                self.writes.append(c)
            if c.ok and (mine or c.args.get("timestamp") == self.thread_ts):
                self.signs.append(c)

    def sign_of_life_ms(self) -> float | None:
        """From sending the question to the first thing the asker sees (reaction, status,
        placeholder or text)."""
        seen = [c.at for c in self.signs if c.method in SIGNS_OF_LIFE]
        if not seen or self.asked_at is None:
            return None
        return (min(seen) - self.asked_at) * 1000

    def visible(self, slack: FakeSlack, shown: dict[tuple[str, str], str] | None = None) -> str:
        if shown is not None:
            return shown.get((self.channel, self.thread_ts), "")
        return "".join(m.visible for m in slack.thread(self.channel, self.thread_ts))

    def complete(self, slack: FakeSlack, shown: dict[tuple[str, str], str] | None = None) -> bool:
        """Every letter of the answer is shown, in order (Markdown or mrkdwn, links aside)."""
        return _letters(self.answer) in _letters(self.visible(slack, shown))

    def first_visible_at(self) -> float | None:
        for call in self.writes:
            if call.ok and carries_answer_text(call):
                return call.at
        return None

    def final_at(self) -> float | None:
        done = [c.at for c in self.writes if c.ok]
        return max(done) if done else None

    @property
    def first_chunk_at(self) -> float | None:
        return (
            self.invocations[0].chunk_times[0]
            if self.invocations and self.invocations[0].chunk_times
            else None
        )

    @property
    def last_chunk_at(self) -> float | None:
        return (
            self.invocations[0].chunk_times[-1]
            if self.invocations and self.invocations[0].chunk_times
            else None
        )


def threads_by_key(slack: FakeSlack) -> dict[tuple[str, str], str]:
    """Every thread's visible bot text, in one pass over the fake's messages."""
    grouped: dict[tuple[str, str], list[Any]] = {}
    for message in slack.messages.values():
        if message.thread_ts and not message.deleted and message.ephemeral_user is None:
            grouped.setdefault((message.channel, message.thread_ts), []).append(message)
    return {
        key: "".join(m.visible for m in sorted(items, key=lambda m: float(m.ts)))
        for key, items in grouped.items()
    }


def _letters(text: str) -> str:
    return "".join(re.findall(r"[^\W_]+", re.sub(r"https?://[^\s)|>]+", "", text)))


def carries_answer_text(call: Call) -> bool:
    args = call.args
    if call.method in {"chat.startStream", "chat.appendStream", "chat.stopStream"}:
        return bool(args.get("markdown_text") or args.get("chunks"))
    text = str(args.get("markdown_text") or args.get("text") or "")
    return bool(text) and "Thinking" not in text


def summarize(
    conversations: Iterable[Conversation], slack: FakeSlack, *, since: float
) -> dict[str, Any]:
    """The figures of one scenario."""
    items = list(conversations)
    first = [
        (c.first_visible_at() - c.first_chunk_at) * 1000
        for c in items
        if c.first_visible_at() is not None and c.first_chunk_at is not None
    ]
    final = [
        (c.final_at() - c.last_chunk_at) * 1000
        for c in items
        if c.final_at() is not None and c.last_chunk_at is not None
    ]
    writes = [len(c.writes) for c in items]
    signs = [ms for c in items if (ms := c.sign_of_life_ms()) is not None]
    calls = [c for c in slack.calls if c.at >= since and c.method in WRITES]
    limited = [c for c in slack.calls if c.at >= since and c.status == 429]
    return {
        "conversations": len(items),
        "complete_answers": sum(1 for c in items if c.complete(slack)),
        "duplicate_answers": sum(
            max(0, len({i.started_at for i in c.invocations}) - 1) for c in items
        ),
        "ack_ms_p50": percentile([c.ack_ms for c in items], 50),
        "ack_ms_p99": percentile([c.ack_ms for c in items], 99),
        "first_visible_ms_p50": percentile(first, 50),
        "first_visible_ms_p99": percentile(first, 99),
        "final_after_last_chunk_ms_p50": percentile(final, 50),
        "final_after_last_chunk_ms_p99": percentile(final, 99),
        "sign_of_life_ms_p50": percentile(signs, 50),
        "sign_of_life_ms_p99": percentile(signs, 99),
        "sign_of_life_within_1s_share": (
            sum(1 for ms in signs if ms <= 1000) / len(items) if items else None
        ),
        "slack_writes_per_answer": (sum(writes) / len(writes)) if writes else None,
        "slack_429": len(limited),
        "slack_429_share_of_writes": (len([c for c in limited if c.method in WRITES]) / len(calls))
        if calls
        else 0.0,
    }
