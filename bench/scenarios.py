"""The benchmark's scenarios: what users feel, one figure set each."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from bench.harness import (
    BotProcess,
    Conversation,
    lag_p99_ms,
    mention_event,
    summarize,
    threads_by_key,
)
from tests.fakes.bedrock import FakeBedrockAgentRuntime, Script
from tests.fakes.slack import FakeSlack

PARAGRAPH = (
    "Our refund policy gives you **30 days** to return any item. Refunds reach your card in "
    "5–7 business days; see the [handbook](https://example.com/handbook) for exceptions."
)
_ts = itertools.count(1)


def next_ts() -> str:
    return f"1750000000.{next(_ts):06d}"


class Agent:
    """The fake agent's pacing: first chunk after `first_delay`, then a chunk every `interval`."""

    def __init__(self, bedrock: FakeBedrockAgentRuntime) -> None:
        self.scripts: dict[str, Script] = {}
        bedrock.responder = lambda inv: self.scripts.get(inv.input_text) or Script.answer("?")

    def answer(
        self, question: str, text: str, *, first_delay: float, interval: float, chunk: int = 20
    ) -> None:
        self.scripts[question] = Script.answer(
            text, chunk_size=chunk, first_delay=first_delay, interval=interval
        )


async def settle(
    conversations: list[Conversation],
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    *,
    within: float,
) -> None:
    """Wait until every answer is complete in Slack (or `within` seconds pass).

    Polls cheaply (one pass over the fake's messages per poll, only unfinished conversations),
    so the driver does not steal the CPU the bot under test needs.
    """
    deadline = time.monotonic() + within
    pending = list(conversations)
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(0.25)  # polling the fakes' state; the bot runs in another process
        shown = threads_by_key(slack)
        pending = [c for c in pending if not c.complete(slack, shown=shown)]
    await asyncio.sleep(0.3)  # let closing writes (reactions, statuses) land
    for conversation in conversations:
        conversation.collect(slack, bedrock)


async def run_conversations(
    bot: BotProcess,
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    agent: Agent,
    *,
    count: int,
    channels: int,
    spread: float,
    text: str,
    first_delay: float,
    interval: float,
    within: float,
    label: str,
    chunk: int = 20,
) -> dict[str, Any]:
    """`count` questions, each in its own new thread, sent evenly over `spread` seconds."""
    await asyncio.sleep(2)  # a quiet moment: the previous scenario's tail is not measured here
    since = time.monotonic()
    lag_before = await bot.loop_lag_buckets()
    cpu_before, loop_before = bot.cpu_seconds(), bot.cpu_seconds(loop_only=True)
    conversations = []
    for n in range(count):
        question = f"{label} question {n}"
        agent.answer(question, text, first_delay=first_delay, interval=interval, chunk=chunk)
        conversations.append(
            Conversation(question, f"C{label[:4].upper()}{n % channels:03d}", next_ts(), text)
        )

    async def ask(index: int, conversation: Conversation) -> None:
        await asyncio.sleep(spread * index / max(1, count))
        event = mention_event(
            conversation.question, channel=conversation.channel, ts=conversation.thread_ts
        )
        conversation.asked_at = time.monotonic()
        conversation.ack_ms = await bot.send(event)

    await asyncio.gather(*(ask(i, c) for i, c in enumerate(conversations)))
    await settle(conversations, slack, bedrock, within=within)
    figures = summarize(conversations, slack, since=since)
    # The bot's CPU over the scenario (its idle loop included) per answer.
    figures["cpu_ms_per_answer"] = round((bot.cpu_seconds() - cpu_before) * 1000 / count, 2)
    # The event loop's share: what delays every other answer (agent threads excluded).
    loop_cpu = bot.cpu_seconds(loop_only=True) - loop_before
    figures["loop_cpu_ms_per_answer"] = round(loop_cpu * 1000 / count, 2)
    figures["event_loop_lag_ms_p99"] = lag_p99_ms(lag_before, await bot.loop_lag_buckets())
    figures["peak_rss_mb"] = round(bot.peak_rss_mb(), 1)
    figures |= await cleared(conversations, slack, within=150)
    return figures


def left_behind(conversations: list[Conversation], slack: FakeSlack) -> int:
    """Signs of life still showing: placeholders, 👀 reactions, "is thinking…" statuses."""
    shown = threads_by_key(slack)
    return sum(
        ("Thinking" in shown.get((c.channel, c.thread_ts), ""))
        + len(slack.reactions_on(c.channel, c.thread_ts))
        + bool(slack.status(c.channel, c.thread_ts))
        for c in conversations
    )


async def cleared(
    conversations: list[Conversation], slack: FakeSlack, *, within: float
) -> dict[str, Any]:
    """Wait until no sign of life is left behind (Slack's limits may hold the clean-up back):
    how long that took after the answers were complete, and what was still left."""
    started = time.monotonic()
    left = left_behind(conversations, slack)
    while left and time.monotonic() - started < within:
        await asyncio.sleep(0.5)  # polling the fake's state; the bot runs in another process
        left = left_behind(conversations, slack)
    return {"signs_left_behind": left, "cleared_after_s": round(time.monotonic() - started, 1)}


async def burst_with_duplicates(
    bot: BotProcess,
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    agent: Agent,
    *,
    events: int,
    seconds: float,
) -> dict[str, Any]:
    """`events` deliveries in `seconds`, a fifth of them retries or duplicates of earlier ones."""
    since = time.monotonic()
    lag_before = await bot.loop_lag_buckets()
    unique = events * 4 // 5
    conversations = []
    for n in range(unique):
        question = f"burst question {n}"
        agent.answer(question, PARAGRAPH[:100], first_delay=0.2, interval=0.03)
        conversations.append(
            Conversation(question, f"CBURST{n % 50:03d}", next_ts(), PARAGRAPH[:100])
        )
    deliveries: list[tuple[Conversation, int]] = [(c, 0) for c in conversations]
    for n in range(events - unique):  # a retry (with X-Slack-Retry-Num) or a plain duplicate
        deliveries.insert(
            min(len(deliveries), 5 * n + 4),
            (conversations[n * unique // (events - unique)], 1 + n % 2),
        )
    acks: list[float] = []

    async def deliver(index: int, conversation: Conversation, retry: int) -> None:
        await asyncio.sleep(seconds * index / len(deliveries))
        event = mention_event(
            conversation.question, channel=conversation.channel, ts=conversation.thread_ts
        )
        latency = await bot.send(
            event, event_id=f"Ev{conversation.thread_ts}", retry=retry - 1 if retry else 0
        )
        acks.append(latency)
        if not retry:
            conversation.ack_ms = latency
            conversation.asked_at = time.monotonic() - latency / 1000

    await asyncio.gather(*(deliver(i, c, r) for i, (c, r) in enumerate(deliveries)))
    await settle(conversations, slack, bedrock, within=60)
    figures = summarize(conversations, slack, since=since)
    figures["deliveries"] = len(deliveries)
    figures["ack_ms_p99"] = sorted(acks)[int(len(acks) * 0.99) - 1]
    figures["event_loop_lag_ms_p99"] = lag_p99_ms(lag_before, await bot.loop_lag_buckets())
    figures["peak_rss_mb"] = round(bot.peak_rss_mb(), 1)
    figures |= await cleared(conversations, slack, within=150)
    return figures


async def time_to_first_text(
    bot: BotProcess,
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    agent: Agent,
    *,
    label: str,
    seconds: float,
) -> dict[str, Any]:
    """One answer lasting `seconds`: from the question to the first text a user can read."""
    text = (PARAGRAPH + " ") * 8
    chunks = max(1, len(text) // 20)
    question = f"{label} ten second question"
    agent.answer(question, text, first_delay=0.8, interval=(seconds - 0.8) / chunks)
    conversation = Conversation(question, f"C{label.upper()[:6]}", next_ts(), text)
    asked = conversation.asked_at = time.monotonic()
    event = mention_event(question, channel=conversation.channel, ts=conversation.thread_ts)
    conversation.ack_ms = await bot.send(event)
    await settle([conversation], slack, bedrock, within=seconds + 20)
    first = conversation.first_visible_at()
    return {
        "answer_seconds": seconds,
        "question_to_first_text_ms": None if first is None else round((first - asked) * 1000),
        "complete": conversation.complete(slack),
    }
