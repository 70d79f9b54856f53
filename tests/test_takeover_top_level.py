"""A dead answer at the top level of a conversation (not in a thread) is closed by the takeover
too: the new owner finds it in the channel's history, not in a thread's replies."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_targets import SignOfLife, ThreadTarget
from bot.takeover import CONTINUED_NOTE, dead_answers, encode
from tests.conftest import StartBot
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.fakes.slack import FakeSlack
from tests.harness import question_turn

ASKED_TS = "1699999999.000500"  # before every ts the fake gives the bot's messages

pytestmark = [
    pytest.mark.both_redis,
    pytest.mark.bedrock_only("takeover is the same for every agent backend"),
]


def top_level(slack: FakeSlack) -> list[str]:
    """The visible text of the bot's top-level messages in D0DM, oldest first."""
    found = [m for m in slack.messages.values() if m.channel == "D0DM" and m.thread_ts is None]
    return [m.visible for m in sorted(found, key=lambda m: float(m.ts))]


async def test_a_dead_top_level_answer_is_closed_and_the_question_answered_again(
    start: StartBot, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    bot = await start(TURN_LEASE_SECONDS="1", SLACK_STREAMING="update")
    turn = question_turn("is the office open today?")
    target = ThreadTarget(
        "T0001", "D0DM", None, "U0USER", question_ts=ASKED_TS, sign_of_life=SignOfLife.REACTION
    )
    # What a replica did before it died: recorded the turn and posted half an answer at the
    # top level of the DM — then stopped renewing its lease.
    dead = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    await dead.chat_postMessage(channel="D0DM", text="The office is")
    recorded = await bot.runtime.services.memory.inflight.begin(
        turn.conversation, turn.turn_id, payload=encode(turn, target), owner="dead-replica"
    )
    assert recorded

    await slack.wait_for(
        lambda: any(m.startswith("You said: is the office open") for m in top_level(slack)),
        timeout=15,
    )
    first, *rest = top_level(slack)
    assert first == "The office is" + CONTINUED_NOTE
    assert len([m for m in rest if m.startswith("You said:")]) == 1
    assert slack.calls_to("conversations.history")
    assert bedrock.invocations[0].input_text == "is the office open today?"


def test_only_the_bots_own_top_level_messages_after_the_question_are_dead() -> None:
    target = ThreadTarget("T1", "D1", None, "U1", question_ts="100.0")
    messages = [
        {"user": "UBOT", "ts": "99.0", "text": "an earlier answer"},
        {"user": "U1", "ts": "101.0", "text": "a person"},
        {"user": "UBOT", "ts": "102.0", "text": "half", "thread_ts": "50.0"},  # a reply
        {"user": "UBOT", "ts": "103.0", "text": "half an answer"},
        {"user": "UBOT", "ts": "104.0", "text": "closed" + CONTINUED_NOTE},
    ]

    dead = dead_answers(messages, bot_user_id="UBOT", target=target)

    assert [m["ts"] for m in dead] == ["103.0"]
