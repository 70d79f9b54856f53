"""Ask the running bot questions whose answers stream in held parts, and read what Slack shows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import StreamingMode
from bot.slack_budget import WriteBudget
from bot.slack_stream import AnswerStream
from bot.slack_targets import ThreadTarget
from tests.fakes.bedrock import Pause, Script, Step, Text
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_state import Message
from tests.harness import Bot, FakeAgent, mention, new_ts, wait_finished

# Where Knowledge-Base citations point: a web page with a title, and a PDF in S3 without one.
WEB = {"type": "WEB", "webLocation": {"url": "https://wiki.example.com/hr/vacation"}}
S3 = {"type": "S3", "s3Location": {"uri": "s3://handbook/benefits.pdf"}}


def held_answer(agent: FakeAgent, *parts: str, seconds: float = 5) -> list[asyncio.Event]:
    """Enqueue an answer streaming `parts`, held before each part after the first.

    Returns one event per hold, in order: setting it lets the next part through (a hold ends
    by itself after `seconds`).
    """
    holds = [asyncio.Event() for _ in parts[1:]]
    steps: list[Step] = [Text(parts[0])]
    for hold, part in zip(holds, parts[1:], strict=True):
        steps += [Pause(seconds, until=hold), Text(part)]
    agent.enqueue(Script(steps))
    return holds


def answer_writer(
    client: AsyncWebClient,
    channel: str,
    *,
    mode: StreamingMode,
    budget: WriteBudget,
    show_progress: bool = True,
    user_team_id: str | None = None,
) -> tuple[AnswerStream, str]:
    """The bot's writer of an answer to U0USER in a new thread of `channel`; and the thread."""
    thread = new_ts()
    target = ThreadTarget(
        team_id="T0001",
        channel=channel,
        thread_ts=thread,
        user_id="U0USER",
        question_ts=thread,
        user_team_id=user_team_id,
    )
    writer = AnswerStream(
        client=client, target=target, mode=mode, budget=budget, show_progress=show_progress
    )
    return writer, thread


def thread_text(slack: FakeSlack, thread_ts: str, channel: str = "C0CHAN") -> list[str]:
    """What each bot message of the thread shows, oldest first."""
    return [m.visible for m in slack.thread(channel, thread_ts)]


async def answer_to(
    bot: Bot, slack: FakeSlack, event: dict[str, Any], finished: int = 1
) -> Message:
    """Send `event`, wait until `finished` answers are done, and return its thread's one message."""
    await bot.send_event(event)
    await wait_finished(slack, finished)
    [message] = slack.thread(event["channel"], event.get("thread_ts") or event["ts"])
    return message


async def ask_in_turn(
    bot: Bot,
    slack: FakeSlack,
    *events: dict[str, Any],
    finished: Callable[[FakeSlack, int], Awaitable[None]] = wait_finished,
) -> None:
    """Send each event once the answers before it have finished (counted from the first)."""
    for count, event in enumerate(events, 1):
        await bot.send_event(event)
        await finished(slack, count)


async def count_in_three_writes(
    bot: Bot, slack: FakeSlack, agent: FakeAgent, last: str = "three"
) -> tuple[str, asyncio.Event, asyncio.Event]:
    """Ask "count", answered "one ", "two " and `last`, each part held for the one before.

    Returns the question's ts once the answer's stream has started, and the two holds.
    """
    more, release = held_answer(agent, "one ", "two ", last)
    event = mention("count")
    await bot.send_event(event)
    await slack.wait_for_calls("chat.startStream")
    return event["ts"], more, release


async def count_past_a_failing_append(
    bot: Bot, slack: FakeSlack, agent: FakeAgent, fail: Callable[[], None], last: str
) -> Message:
    """Count in three writes with `fail()` set up for the first append; the finished answer.

    Whatever the failed append did, "two" shows once.
    """
    ts, more, release = await count_in_three_writes(bot, slack, agent, last)
    fail()
    more.set()
    await slack.wait_for_calls("chat.appendStream")
    release.set()
    await wait_finished(slack)
    [message] = slack.thread("C0CHAN", ts)
    assert message.visible.startswith(f"one two {last}")
    assert message.visible.count("two") == 1
    return message
