"""Prometheus metrics: one registry per process (per runtime in tests), exported at /metrics."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.events import PriceBook, Usage

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Fine buckets where targets live (acks < 50 ms, loop lag < 20 ms), coarse ones for answers.
_FAST_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
)
_FAST_BUCKETS += (0.1, 0.25, 1)
_ANSWER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


# What each metric counts, by name (the HELP line /metrics shows).
_HELP = {
    "slackbot_questions": "Questions",
    "slackbot_answers": "Answers, by outcome",
    "slackbot_feedback": "Feedback clicks",
    "slackbot_agent_tokens": "Agent tokens",
    "slackbot_agent_cost_usd": "Estimated agent cost (PRICE_*_PER_1K)",
    "slackbot_slack_rate_limited": "Slack 429 answers",
    "slackbot_confirmations": (
        "Confirm / Cancel questions: shown, confirmed, denied, answered (an option), expired"
    ),
    "slackbot_active_answers": "Answers in progress",
    "slackbot_ack_seconds": "From a Slack request arriving to its HTTP acknowledgement",
    "slackbot_first_visible_text_seconds": (
        "From the agent's first chunk to the first visible Slack text"
    ),
    "slackbot_answer_seconds": "From question to complete answer",
    "slackbot_event_loop_lag_seconds": (
        "How late the event loop ran a 20 ms timer (blocking work shows here)"
    ),
}


class Metrics:
    """Counters and histograms a team running the bot watches."""

    def __init__(self, *, prices: PriceBook | None = None) -> None:
        self._prices = prices or PriceBook()
        self.registry = CollectorRegistry()
        self.questions = self._counter("slackbot_questions", "surface")
        self.answers = self._counter("slackbot_answers", "outcome")
        self.feedback_votes = self._counter("slackbot_feedback", "vote")
        self.tokens = self._counter("slackbot_agent_tokens", "direction")
        self.cost = self._counter("slackbot_agent_cost_usd")
        self.slack_rate_limited = self._counter("slackbot_slack_rate_limited", "method")
        self.confirmations = self._counter("slackbot_confirmations", "outcome")
        name = "slackbot_active_answers"
        self.active_answers = Gauge(name, _HELP[name], registry=self.registry)
        self.ack = self._histogram("slackbot_ack_seconds", _FAST_BUCKETS)
        self.first_text = self._histogram("slackbot_first_visible_text_seconds", _ANSWER_BUCKETS)
        self.answer_time = self._histogram("slackbot_answer_seconds", _ANSWER_BUCKETS)
        self.loop_lag = self._histogram("slackbot_event_loop_lag_seconds", _FAST_BUCKETS)

    def _counter(self, name: str, *labels: str) -> Counter:
        return Counter(name, _HELP[name], labels, registry=self.registry)

    def _histogram(self, name: str, buckets: tuple[float, ...]) -> Histogram:
        return Histogram(name, _HELP[name], buckets=buckets, registry=self.registry)

    def feedback(self, vote: str) -> None:
        self.feedback_votes.labels(vote=vote).inc()

    def usage(self, usage: Usage) -> float:
        """Count one model call's tokens and its estimated cost (priced by its model)."""
        cost = self._prices.cost(usage)
        self.tokens.labels(direction="input").inc(usage.input_tokens)
        self.tokens.labels(direction="output").inc(usage.output_tokens)
        # Prompt-cache tokens (harness, Converse-style usage) are counted, not priced: their
        # price is a per-model fraction of the input price that PRICE_* does not know.
        if usage.cache_read_tokens:
            self.tokens.labels(direction="cache_read").inc(usage.cache_read_tokens)
        if usage.cache_write_tokens:
            self.tokens.labels(direction="cache_write").inc(usage.cache_write_tokens)
        self.cost.inc(cost)
        return cost

    def watch_event_loop(self, *, interval: float = 0.1) -> LagWatch:
        """Until stopped: sample how late a timer fires, 10 times a second. Each sample wakes
        an idle loop, and a wake-up is not free on a virtual machine (about 0.2 ms of CPU on
        the Firecracker VM the bench runs on): 50 a second cost an idle replica 12 ms of CPU a
        second, 10 cost it 3."""
        watch = LagWatch(asyncio.get_running_loop(), self.loop_lag, interval)
        watch.next()
        return watch

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LagWatch:
    """The event-loop lag sampler: a chain of plain timer callbacks, cheaper than a task that
    sleeps in a loop (no future, no task step per sample)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, lag: Histogram, interval: float) -> None:
        self._loop, self._lag, self._interval = loop, lag, interval
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def next(self) -> None:
        self._due = self._loop.time() + self._interval
        self._handle = self._loop.call_at(self._due, self._fired)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fired(self) -> None:
        self._lag.observe(max(0.0, self._loop.time() - self._due))
        self.next()
