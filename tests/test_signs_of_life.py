"""The sign of life when Slack's budget for reactions and statuses is spent (a crowd of
questions in one workspace): a placeholder message, limited per channel, that becomes the answer
and never stays behind."""

from __future__ import annotations

import asyncio

from tests.conftest import StartBot
from tests.fakes.bedrock import Pause, Script, Text
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention


def spent(slack: FakeSlack, *methods: str) -> None:
    """Slack answers 429 to these methods for a while (long enough for one answer)."""
    for method in methods:
        slack.rate_limit(method, retry_after=30, times=1)


async def test_no_reaction_or_status_left_means_a_placeholder_that_becomes_the_answer(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    release = asyncio.Event()
    bedrock.enqueue(Script([Pause(5, until=release), Text("Here is "), Text("the answer.")]))
    spent(slack, "reactions.add", "assistant.threads.setStatus")
    event = mention("are you there?")

    await bot.send_event(event)
    await slack.wait_for(lambda: len(slack.thread("C0CHAN", event["ts"])) == 1)
    [placeholder] = slack.thread("C0CHAN", event["ts"])
    assert "Thinking" in placeholder.versions[0], placeholder.versions
    release.set()
    await slack.wait_for(
        lambda: slack.thread("C0CHAN", event["ts"])[0].visible == "Here is the answer."
    )

    assert [m.ts for m in slack.thread("C0CHAN", event["ts"])] == [placeholder.ts]
    assert slack.reactions_on("C0CHAN", event["ts"]) == []
    assert not slack.calls_to("chat.startStream"), "the placeholder is the answer's message"


async def test_a_first_text_that_comes_soon_is_the_sign_of_life_without_a_placeholder(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    spent(slack, "reactions.add", "assistant.threads.setStatus")
    event = mention("quick one")

    await bot.send_event(event)
    await slack.wait_for(
        lambda: [m.visible for m in slack.thread("C0CHAN", event["ts"])] == ["You said: quick one"]
    )

    [answer] = slack.thread("C0CHAN", event["ts"])
    assert not any("Thinking" in v for v in answer.versions), answer.versions
    assert not slack.calls_to("chat.delete")


async def test_a_placeholder_whose_edit_is_held_back_is_replaced_by_a_new_post(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    release = asyncio.Event()
    bedrock.enqueue(Script([Pause(5, until=release), Text("Busy "), Text("workspace.")]))
    spent(slack, "reactions.add", "assistant.threads.setStatus", "chat.update")
    event = mention("crowded?")

    await bot.send_event(event)
    await slack.wait_for(lambda: len(slack.thread("C0CHAN", event["ts"])) == 1)
    [placeholder] = slack.thread("C0CHAN", event["ts"])
    await slack.wait_for(lambda: any(c.status == 429 for c in slack.calls_to("chat.update")))
    release.set()
    await slack.wait_for(lambda: any(c.ok for c in slack.calls_to("chat.delete")))

    [answer] = slack.thread("C0CHAN", event["ts"])
    assert answer.ts != placeholder.ts
    assert answer.visible == "Busy workspace."
    assert [c.status for c in slack.calls_to("chat.update")] == [429], "none in Retry-After"


async def test_a_429_on_posts_in_one_channel_does_not_hold_back_another(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update")
    slack.rate_limit("chat.postMessage", retry_after=3, times=1)
    first, second = mention("one", channel="C0ONE"), mention("two", channel="C0TWO")

    await bot.send_event(first)
    await slack.wait_for(lambda: any(c.status == 429 for c in slack.calls_to("chat.postMessage")))
    await bot.send_event(second)
    await slack.wait_for(
        lambda: [m.visible for m in slack.thread("C0TWO", second["ts"])] == ["You said: two"]
    )
    await slack.wait_for(
        lambda: [m.visible for m in slack.thread("C0ONE", first["ts"])] == ["You said: one"]
    )

    [limited] = [c for c in slack.calls_to("chat.postMessage") if c.status == 429]
    assert limited.args["channel"] == "C0ONE"
    one = [c for c in slack.calls_to("chat.postMessage") if c.ok and c.args["channel"] == "C0ONE"]
    two = [c for c in slack.calls_to("chat.postMessage") if c.ok and c.args["channel"] == "C0TWO"]
    assert two[0].at < limited.at + 3, "channel two did not wait for channel one's Retry-After"
    assert all(c.at >= limited.at + 3 for c in one), "channel one waited its own Retry-After"
