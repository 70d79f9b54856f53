"""End to end with the real Redis, standalone and Cluster: follow-ups, late joins, session
expiry, restarts, dedup, order."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import StartBot
from tests.fakes.bedrock import Pause, Script, Text
from tests.fakes.slack import FakeSlack
from tests.harness import (
    Bot,
    BotRedis,
    FakeAgent,
    expected_session,
    finished_answers,
    mention,
    new_ts,
    wait_finished,
)

pytestmark = pytest.mark.both_redis


def channel_message(text: str, *, thread_ts: str, user: str = "U0USER") -> dict[str, object]:
    """A `message.channels` event: a person writing in a thread, without a mention."""
    ts = new_ts()
    return {
        "type": "message",
        "channel_type": "channel",
        "channel": "C0CHAN",
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "thread_ts": thread_ts,
        "team": "T0001",
    }


async def ask(bot: Bot, slack: FakeSlack, event: dict[str, object]) -> None:
    """Send a question and wait until its thread holds a finished answer."""
    thread = str(event.get("thread_ts") or event["ts"])
    before = finished_answers(slack)
    await bot.send_event(event)
    await wait_finished(slack, before + 1)
    assert slack.thread("C0CHAN", thread)


async def test_a_follow_up_in_an_answered_thread_needs_no_mention(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    first = mention("what is the leave policy?")
    await ask(bot, slack, first)

    await ask(bot, slack, channel_message("and for part-timers?", thread_ts=first["ts"]))

    one, two = await bedrock.wait_for_invocations(2)
    assert two.input_text == "and for part-timers?"
    assert two.session_id == one.session_id
    assert [m.visible for m in slack.thread("C0CHAN", first["ts"])][
        -1
    ] == "You said: and for part-timers?"


async def test_other_threads_and_top_level_chatter_are_left_alone(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    stranger_thread = new_ts()
    await bot.send_event(channel_message("not for the bot", thread_ts=stranger_thread))
    top_level = channel_message("hello all", thread_ts="") | {"thread_ts": None}
    await bot.send_event(top_level)

    await bot.send_event(mention("the only question"))

    invocations = await bedrock.wait_for_invocations(1)
    assert [i.input_text for i in invocations] == ["the only question"]
    assert not slack.thread("C0CHAN", stranger_thread)


async def test_a_mention_inside_an_answered_thread_is_answered_once(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    first = mention("first")
    await ask(bot, slack, first)
    again = mention("second", thread_ts=first["ts"])
    # Slack delivers a mention in a thread twice: app_mention and message.channels.
    as_message = channel_message(again["text"], thread_ts=first["ts"]) | {"ts": again["ts"]}

    await bot.send_event(as_message)
    await ask(bot, slack, again)

    assert [i.input_text for i in bedrock.invocations] == ["first", "second"]


async def test_joining_a_thread_late_reads_it_once_as_context(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    root = new_ts()
    slack.replies[("C0CHAN", root)] = [
        {"type": "message", "user": "U0ANN", "text": "Deploy failed on prod", "ts": root},
        {"type": "message", "user": "U0BOB", "text": "Error was OOMKilled", "ts": new_ts()},
    ]
    await ask(bot, slack, mention("why did it fail?", thread_ts=root))
    await ask(bot, slack, mention("how do we fix it?", thread_ts=root))

    one, two = bedrock.invocations
    assert "<@U0ANN>: Deploy failed on prod" in one.input_text
    assert "<@U0BOB>: Error was OOMKilled" in one.input_text
    assert one.input_text.endswith("why did it fail?")
    assert two.input_text == "how do we fix it?"
    assert len(slack.calls_to("conversations.replies")) == 1


async def test_after_idle_a_new_session_carries_the_history(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, bot_redis: BotRedis
) -> None:
    first = mention("my name is Ann")
    await ask(bot, slack, first)
    await bot_redis.make_idle(first["ts"])

    await ask(bot, slack, mention("what is my name?", thread_ts=first["ts"]))

    one, two = bedrock.invocations
    assert [one.session_id, two.session_id] == [
        expected_session(bedrock, f"T0001:C0CHAN:{first['ts']}:g1"),
        expected_session(bedrock, f"T0001:C0CHAN:{first['ts']}:g2"),
    ]
    assert two.conversation_history == [
        {"role": "user", "content": [{"text": "my name is Ann"}]},
        {"role": "assistant", "content": [{"text": "You said: my name is Ann"}]},
    ]
    assert one.conversation_history == []


async def test_history_can_be_replayed_as_an_input_preamble(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, bot_redis: BotRedis
) -> None:
    bot = await start(HISTORY_REPLAY="input_preamble")
    first = mention("my name is Ann")
    await ask(bot, slack, first)
    await bot_redis.make_idle(first["ts"])

    await ask(bot, slack, mention("what is my name?", thread_ts=first["ts"]))

    second = bedrock.invocations[1]
    assert second.conversation_history == []
    assert "User: my name is Ann" in second.input_text
    assert second.input_text.endswith("what is my name?")


async def test_the_session_expires_on_the_real_clock(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SESSION_IDLE_SECONDS="1")
    first = mention("remember 42")
    await ask(bot, slack, first)
    await asyncio.sleep(1.2)  # the behaviour under test is the passing of time itself

    await ask(bot, slack, mention("what number?", thread_ts=first["ts"]))

    assert bedrock.invocations[1].session_id == expected_session(
        bedrock, f"T0001:C0CHAN:{first['ts']}:g2"
    )
    assert bedrock.invocations[1].conversation_history[0]["content"] == [{"text": "remember 42"}]


async def test_a_restart_loses_nothing(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, bot_redis: BotRedis
) -> None:
    before = await start()
    first = mention("my name is Ann")
    await ask(before, slack, first)
    await before.runtime.stop(grace=5)

    after = await start()
    await ask(after, slack, mention("still there?", thread_ts=first["ts"]))
    await bot_redis.make_idle(first["ts"])
    await ask(after, slack, channel_message("what is my name?", thread_ts=first["ts"]))

    one, two, three = bedrock.invocations
    assert two.session_id == one.session_id
    assert three.session_id != one.session_id
    assert [m["content"][0]["text"] for m in three.conversation_history] == [
        "my name is Ann",
        "You said: my name is Ann",
        "still there?",
        "You said: still there?",
    ]


async def test_retries_and_duplicate_deliveries_get_one_answer_across_replicas(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    one, two = await start(), await start()
    event = mention("only once please")

    responses = await asyncio.gather(
        one.send_event(event, event_id="EvDUP1"),
        two.send_event(event, event_id="EvDUP1"),
        one.send_event(event, event_id="EvDUP1", retry_num=1),
        two.send_event(event, event_id="EvDUP1", retry_num=2),
    )
    await bot_answered(slack, event["ts"])
    await one.send_event(mention("a later question"))
    await bedrock.wait_for_invocations(2)

    assert all(r.status == 200 for r in responses)
    assert [i.input_text for i in bedrock.invocations] == ["only once please", "a later question"]
    assert len(slack.thread("C0CHAN", event["ts"])) == 1


async def bot_answered(slack: FakeSlack, thread_ts: str) -> None:
    await slack.wait_for(
        lambda: any(not m.streaming for m in slack.thread("C0CHAN", thread_ts) if m.visible)
    )


async def test_questions_in_one_thread_are_answered_one_at_a_time_across_replicas(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    one, two = await start(), await start()
    release = asyncio.Event()
    bedrock.enqueue(
        Script([Text("first answer"), Pause(5, until=release)]), Script([Text("second answer")])
    )
    first = mention("first")
    await one.send_event(first)
    await bedrock.wait_for_invocations(1)
    second = mention("second", thread_ts=first["ts"])
    await two.send_event(second)
    # The second question is queued (its sign of life shows) but must not reach the agent.
    await slack.wait_for(lambda: slack.reactions_on("C0CHAN", second["ts"]) == ["eyes"])
    assert len(bedrock.invocations) == 1

    release.set()
    await bedrock.wait_for_invocations(2)
    await bedrock.invocations[1].wait_finished()

    first_call, second_call = bedrock.invocations
    assert first_call.finished_at is not None
    assert second_call.started_at >= first_call.finished_at
    await wait_finished(slack, 2)
    assert [m.visible for m in slack.thread("C0CHAN", first["ts"])] == [
        "first answer",
        "second answer",
    ]


async def test_questions_in_different_threads_run_concurrently(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    release = asyncio.Event()
    bedrock.enqueue(Script([Text("slow"), Pause(5, until=release)]), Script([Text("fast")]))
    slow = mention("slow one")
    await bot.send_event(slow)
    await bedrock.wait_for_invocations(1)

    fast = mention("fast one")
    await bot.send_event(fast)
    await bot_answered(slack, fast["ts"])

    assert bedrock.invocations[0].finished_at is None  # the slow answer is still streaming
    release.set()
    await bot_answered(slack, slow["ts"])
