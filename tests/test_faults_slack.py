"""Fault injection on the Slack side: the final answer always arrives, nothing stays behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.answers import (
    count_in_three_writes,
    count_past_a_failing_append,
    held_answer,
    thread_text,
)
from tests.conftest import StartBot
from tests.fakes.bedrock import HttpError, Script
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, dm, mention, new_ts

LONG = "\n\n".join(f"Paragraph {n}: " + "lorem ipsum dolor sit amet " * 12 for n in range(40))


async def test_a_429_is_honoured_and_the_answer_still_completes_in_order(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    slack.rate_limit("chat.appendStream", retry_after=1, times=1)
    ts, started, release = await count_in_three_writes(bot, slack, bedrock)
    started.set()
    await slack.wait_for(lambda: slack.rate_limited == 1)
    release.set()
    await slack.wait_for_calls("chat.stopStream")

    assert thread_text(slack, ts) == ["one two three"]
    [limited] = [c for c in slack.calls_to("chat.appendStream") if c.status == 429]
    later = [c for c in slack.calls_to("chat.appendStream") if c.at > limited.at]
    assert all(c.at - limited.at >= 0.99 for c in later), "nothing before Retry-After passed"
    [message] = slack.thread("C0CHAN", ts)
    assert all(a in b for a, b in zip(message.versions, message.versions[1:], strict=False))


def rate_limited_final_write(slack: FakeSlack) -> None:
    slack.rate_limit("chat.stopStream", retry_after=1, times=1)


def transient_errors(slack: FakeSlack) -> None:
    slack.fail("chat.stopStream", "internal_error", times=2)
    slack.fail("reactions.add", "internal_error", times=1)


@pytest.mark.parametrize(
    ("word", "faults"),
    [("final", rate_limited_final_write), ("flaky", transient_errors)],
    ids=["a-rate-limited-final-write-waits", "transient-errors-are-retried"],
)
async def test_a_final_write_slack_refuses_for_a_while_still_lands(
    bot: Bot,
    slack: FakeSlack,
    bedrock: FakeAgent,
    word: str,
    faults: Callable[[FakeSlack], None],
) -> None:
    [release] = held_answer(bedrock, "You said: ", word)
    faults(slack)
    event = mention(word)

    await bot.send_event(event)
    await slack.wait_for_calls("chat.startStream")
    release.set()

    await slack.wait_for(lambda: any(c.ok for c in slack.calls_to("chat.stopStream")))
    assert thread_text(slack, event["ts"]) == [f"You said: {word}"]


async def test_an_expired_stream_continues_on_the_same_message_with_chat_update(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    [release] = held_answer(bedrock, "Part **one**.", " Part two.")
    event = mention("long running")

    await bot.send_event(event)
    await slack.wait_for_calls("chat.startStream")
    [message] = slack.thread("C0CHAN", event["ts"])
    slack.expire_stream("C0CHAN", message.ts)
    release.set()

    await slack.wait_for(lambda: "Part two." in message.visible and bool(message.blocks))
    assert message.visible.startswith("Part **one**. Part two.")
    assert len(slack.thread("C0CHAN", event["ts"])) == 1
    assert any(c.ok for c in slack.calls_to("chat.update"))


async def test_native_mode_falls_back_when_slack_refuses_to_stream(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="native")
    slack.streaming_enabled = False
    event = mention("refused")

    await bot.send_event(event)

    await slack.wait_for(lambda: thread_text(slack, event["ts"]) == ["You said: refused"])


async def test_long_answers_continue_in_following_messages_without_losing_text(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    text = LONG * 2  # ≈ 26,000 characters: three native messages
    bedrock.enqueue(Script.answer(text, chunk_size=900))
    event = mention("tell me everything")

    await bot.send_event(event)

    await slack.wait_for(
        lambda: any(b for m in slack.thread("C0CHAN", event["ts"]) for b in m.blocks)
    )
    parts = thread_text(slack, event["ts"])
    assert len(parts) == 3
    assert "".join(parts) == text
    assert all(len(p) <= 12_000 for p in parts)
    assert all(p.endswith("\n\n") for p in parts[:-1]), "split between paragraphs"


async def test_update_mode_splits_at_slack_s_12000_markdown_characters_and_on_msg_too_long(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update")
    text = LONG * 2  # ≈ 27,000 characters
    bedrock.enqueue(Script.answer(text, chunk_size=1_000))
    slack.fail("chat.update", "msg_too_long", times=1)
    event = mention("a lot")

    await bot.send_event(event)

    await slack.wait_for(
        lambda: any(b for m in slack.thread("C0CHAN", event["ts"]) for b in m.blocks)
    )
    messages = slack.thread("C0CHAN", event["ts"])
    assert len(messages) >= 3
    # Slack renders the Markdown itself: no mrkdwn conversion, and far more than 4,000
    # characters per message, even after msg_too_long made the first one smaller.
    assert all(len(m.visible) <= 12_000 for m in messages)
    assert 4_000 < len(messages[0].visible) < 12_000
    assert max(len(m.visible) for m in messages[1:]) > 9_000
    assert all(m.markdown_text and not m.text for m in messages[:-1])
    assert text.startswith("".join(m.markdown_text for m in messages[:-1]))
    assert " ".join(m.visible for m in messages).split() == text.split()


async def test_the_placeholder_never_stays_behind_when_the_agent_fails(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update", AGENT_RETRY_ATTEMPTS="1")
    bedrock.enqueue(Script([HttpError(500, "InternalServerException", "boom")]))
    event = mention("fail please")

    await bot.send_event(event)

    await slack.wait_for(lambda: "Something went wrong" in "".join(thread_text(slack, event["ts"])))
    [message] = slack.thread("C0CHAN", event["ts"])
    assert "Thinking" not in message.visible


async def test_the_thinking_status_is_cleared_when_the_agent_fails(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(AGENT_RETRY_ATTEMPTS="1")
    bedrock.enqueue(Script([HttpError(500, "InternalServerException", "boom")]))
    root = new_ts()

    await bot.send_event(dm("hi", thread_ts=root))

    await slack.wait_for(lambda: len(slack.calls_to("assistant.threads.setStatus")) == 2)
    assert slack.calls_to("assistant.threads.setStatus")[-1].args["status"] == ""
    assert "Something went wrong" in slack.thread("D0DM", root)[0].visible


async def test_the_reaction_is_removed_even_when_slack_rate_limits_the_removal(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    slack.rate_limit("reactions.remove", retry_after=1, times=1)
    event = mention("busy workspace")

    await bot.send_event(event)

    await slack.wait_for(lambda: any(c.ok for c in slack.calls_to("reactions.remove")), timeout=8)
    assert slack.reactions_on("C0CHAN", event["ts"]) == []
    assert thread_text(slack, event["ts"]) == ["You said: busy workspace"]


async def test_an_append_cut_off_mid_call_never_shows_twice(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    cut_off = lambda: slack.disconnect_after("chat.appendStream", times=1)  # noqa: E731
    await count_past_a_failing_append(bot, slack, bedrock, cut_off, "three")
    assert [c.ok for c in slack.calls_to("chat.update")] == [True]  # rewritten whole at the end


async def test_a_deleted_answer_continues_in_a_new_message(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update")
    [release] = held_answer(bedrock, "Part one.", " Part two.")
    event = mention("keep going")

    await bot.send_event(event)
    await slack.wait_for(lambda: "Part one." in "".join(thread_text(slack, event["ts"])))
    [first] = slack.thread("C0CHAN", event["ts"])
    slack.delete_message("C0CHAN", first.ts)
    release.set()

    await slack.wait_for(lambda: any("Part two." in t for t in thread_text(slack, event["ts"])))
    assert thread_text(slack, event["ts"])[-1].startswith("Part one. Part two.")
