"""Prometheus metrics: one registry per process (per runtime in tests), exported at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.events import Usage

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """Counters and histograms a team running the bot watches."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter(
            "slackbot_questions", "Questions received", ["surface"], registry=r
        )
        self.answers = Counter(
            "slackbot_answers", "Answers finished, by outcome", ["outcome"], registry=r
        )
        self.feedback_votes = Counter("slackbot_feedback", "Feedback clicks", ["vote"], registry=r)
        self.tokens = Counter(
            "slackbot_agent_tokens", "Agent tokens used", ["direction"], registry=r
        )
        self.slack_rate_limited = Counter(
            "slackbot_slack_rate_limited", "Slack 429 answers", ["method"], registry=r
        )
        self.active_answers = Gauge("slackbot_active_answers", "Answers streaming now", registry=r)
        self.first_text = Histogram(
            "slackbot_first_visible_text_seconds",
            "From the agent's first chunk to the first visible Slack text",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.answer_time = Histogram(
            "slackbot_answer_seconds",
            "From question to complete answer",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def feedback(self, vote: str) -> None:
        self.feedback_votes.labels(vote=vote).inc()

    def usage(self, usage: Usage) -> None:
        self.tokens.labels(direction="input").inc(usage.input_tokens)
        self.tokens.labels(direction="output").inc(usage.output_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
