"""Scenarios for pacing under pressure: the peer comparison, a 429 window, a sustained 429.

The peer comparison uses the pacing of the side-by-side measurement with ChatGPT-in-Slack
(first token after 0.8 s, then 40 tokens a second, 400 tokens), so the figures can be set
beside the peer's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bench.harness import BotProcess, Conversation, carries_answer_text, mention_event
from bench.scenarios import PARAGRAPH, Agent, next_ts, run_conversations, settle
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.fakes.slack import FakeSlack

TOKENS = 400
FIRST_TOKEN = 0.8
TOKEN_INTERVAL = 1 / 40
PEER_TEXT = ((PARAGRAPH + " ") * 12)[: TOKENS * 4]  # ≈ 4 characters a token
TOKEN_CHARS = len(PEER_TEXT) // TOKENS
TEXT_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"}
)
UPDATES_WINDOW = 6.0

# What every scenario runs on: the bot under test, its two fakes, the agent's scripts.
Rig = tuple[BotProcess, FakeSlack, FakeBedrockAgentRuntime, Agent]


async def peer(*rig: *Rig, count: int, label: str) -> dict[str, Any]:
    """`count` 400-token answers asked at once, each in its own channel."""
    return await run_conversations(
        *rig,
        count=count,
        channels=count,
        spread=0.0,
        text=PEER_TEXT,
        first_delay=FIRST_TOKEN,
        interval=TOKEN_INTERVAL,
        chunk=TOKEN_CHARS,
        within=40,
        label=label,
    )


async def _under_fault(
    rig: Rig, *, label: str, refuse: Callable[[float], None]
) -> tuple[Conversation, dict[str, Any]]:
    """One peer-paced answer; `refuse(asked_at)` sets the fault, cleared once the answer is in
    (refusals the bot never needed to use up must not leak onward). Returns the conversation
    and the figures every fault reports: the calls made inside a Retry-After window, the
    writes, whether the answer is complete."""
    bot, slack, bedrock, agent = rig
    await asyncio.sleep(2)  # a quiet moment: the previous scenario's tail is not measured here
    question = f"{label} question"
    agent.answer(
        question, PEER_TEXT, first_delay=FIRST_TOKEN, interval=TOKEN_INTERVAL, chunk=TOKEN_CHARS
    )
    conversation = Conversation(question, f"C{label.upper()[:8]}", next_ts(), PEER_TEXT)
    violations = slack.calls_inside_retry_after
    conversation.asked_at = time.monotonic()
    refuse(conversation.asked_at)
    event = mention_event(question, channel=conversation.channel, ts=conversation.thread_ts)
    conversation.ack_ms = await bot.send(event)
    await settle([conversation], slack, bedrock, within=60)
    violations = slack.calls_inside_retry_after - violations
    slack.clear_faults()
    return conversation, {
        "calls_inside_retry_after": violations,
        "slack_writes": len(conversation.writes),
        "complete": conversation.complete(slack),
    }


def _ms_between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else (end - start) * 1000


async def window_429(*rig: *Rig, seconds: float = 3.0, retry_after: int = 1) -> dict[str, Any]:
    """Every text method answers 429 for `seconds` from the first token."""
    _, slack, _, _ = rig

    def refuse(asked_at: float) -> None:
        start = asked_at + FIRST_TOKEN
        slack.refuse_window(TEXT_METHODS, start=start, seconds=seconds, retry_after=retry_after)

    conversation, figures = await _under_fault(rig, label="window", refuse=refuse)
    first = conversation.first_visible_at()
    shown = [c.at for c in conversation.writes if c.ok and carries_answer_text(c)]
    later = [at for at in shown if first is not None and first < at <= first + UPDATES_WINDOW]
    return {
        "window_seconds": seconds,
        "retry_after_seconds": retry_after,
        "first_visible_ms": _ms_between(conversation.first_chunk_at, first),
        "updates_in_following_6s": len(later),
        **figures,
    }


async def sustained_429(*rig: *Rig, times: int = 20, retry_after: int = 1) -> dict[str, Any]:
    """Update mode; chat.update answers 429 `times` in a row from the question on."""
    _, slack, _, _ = rig

    def refuse(asked_at: float) -> None:
        slack.rate_limit("chat.update", retry_after=retry_after, times=times)

    conversation, figures = await _under_fault(rig, label="sustained", refuse=refuse)
    final, last = conversation.final_at(), conversation.last_chunk_at
    return {
        "refusals": times,
        "retry_after_seconds": retry_after,
        "final_after_last_chunk_ms": _ms_between(last, final),
        "messages_left_in_thread": len(slack.thread(conversation.channel, conversation.thread_ts)),
        **figures,
    }
