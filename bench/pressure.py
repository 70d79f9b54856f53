"""Scenarios for pacing under pressure: the peer comparison, a 429 window, a sustained 429.

The peer comparison uses the pacing of the side-by-side measurement with ChatGPT-in-Slack
(first token after 0.8 s, then 40 tokens a second, 400 tokens), so the figures can be set
beside the peer's.
"""

from __future__ import annotations

import asyncio
import time
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


async def peer(
    bot: BotProcess,
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    agent: Agent,
    *,
    count: int,
    label: str,
) -> dict[str, Any]:
    """`count` 400-token answers asked at once, each in its own channel."""
    return await run_conversations(
        bot,
        slack,
        bedrock,
        agent,
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


async def _one_answer(
    bot: BotProcess,
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    agent: Agent,
    *,
    label: str,
    refuse: Any,
) -> tuple[Conversation, int]:
    """One peer-paced answer; `refuse(asked_at)` sets the fault. Returns it and the number of
    calls the bot made inside a Retry-After window."""
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
    return conversation, slack.calls_inside_retry_after - violations


async def window_429(
    bot: BotProcess,
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    agent: Agent,
    *,
    seconds: float = 3.0,
    retry_after: int = 1,
) -> dict[str, Any]:
    """Every text method answers 429 for `seconds` from the first token."""

    def refuse(asked_at: float) -> None:
        start = asked_at + FIRST_TOKEN
        slack.refuse_window(TEXT_METHODS, start=start, seconds=seconds, retry_after=retry_after)

    conversation, violations = await _one_answer(
        bot, slack, bedrock, agent, label="window", refuse=refuse
    )
    slack.clear_faults()
    first, chunk = conversation.first_visible_at(), conversation.first_chunk_at
    shown = [c.at for c in conversation.writes if c.ok and carries_answer_text(c)]
    later = [at for at in shown if first is not None and first < at <= first + UPDATES_WINDOW]
    return {
        "window_seconds": seconds,
        "retry_after_seconds": retry_after,
        "first_visible_ms": None if first is None or chunk is None else (first - chunk) * 1000,
        "updates_in_following_6s": len(later),
        "calls_inside_retry_after": violations,
        "slack_writes": len(conversation.writes),
        "complete": conversation.complete(slack),
    }


async def sustained_429(
    bot: BotProcess,
    slack: FakeSlack,
    bedrock: FakeBedrockAgentRuntime,
    agent: Agent,
    *,
    times: int = 20,
    retry_after: int = 1,
) -> dict[str, Any]:
    """Update mode; chat.update answers 429 `times` in a row from the question on."""

    def refuse(asked_at: float) -> None:
        slack.rate_limit("chat.update", retry_after=retry_after, times=times)

    conversation, violations = await _one_answer(
        bot, slack, bedrock, agent, label="sustained", refuse=refuse
    )
    slack.clear_faults()  # refusals the bot never needed to use up must not leak onward
    final, last = conversation.final_at(), conversation.last_chunk_at
    left = [m for m in slack.thread(conversation.channel, conversation.thread_ts)]
    return {
        "refusals": times,
        "retry_after_seconds": retry_after,
        "final_after_last_chunk_ms": None
        if final is None or last is None
        else (final - last) * 1000,
        "messages_left_in_thread": len(left),
        "calls_inside_retry_after": violations,
        "slack_writes": len(conversation.writes),
        "complete": conversation.complete(slack),
    }
