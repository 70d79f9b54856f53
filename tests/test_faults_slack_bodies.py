"""Slack answering with whatever body: HTML 5xx pages from its edge, empty or cut-off JSON,
text/plain. The user still sees the whole answer (or a clear one), nothing stays behind, and
the next question is answered."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.answers import count_past_a_failing_append, held_answer, thread_text
from tests.conftest import StartBot
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, new_ts, wait_finished

pytestmark = pytest.mark.bedrock_only("Slack's answers do not depend on the agent backend")


async def next_question_is_answered(
    bot: Bot, slack: FakeSlack, thread_ts: str | None = None
) -> None:
    event = mention("and now?", thread_ts=thread_ts)
    await bot.send_event(event)
    await slack.wait_for(
        lambda: any("You said: and now?" in t for t in thread_text(slack, thread_ts or event["ts"]))
    )


async def streamed_answer(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> tuple[str, asyncio.Event]:
    """Ask a question whose answer streams "one " … "two": returns its ts and the release."""
    [release] = held_answer(bedrock, "one ", "two")
    event = mention("count")
    await bot.send_event(event)
    await slack.wait_for_calls("chat.startStream")
    return event["ts"], release


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (502, None, "text/html"),
        (503, "Service Unavailable", "text/plain"),
        (500, "", "application/json"),
        (200, '{"ok": tr', "application/json"),
        (200, "", "application/json"),
    ],
    ids=["html-502", "plain-503", "empty-500", "truncated-200", "empty-200"],
)
async def test_odd_bodies_on_the_final_write_still_end_in_the_complete_answer(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, status: int, body: str | None, content_type: str
) -> None:
    ts, release = await streamed_answer(bot, slack, bedrock)
    slack.fail_raw("chat.stopStream", status=status, body=body, content_type=content_type, times=2)
    release.set()

    await wait_finished(slack)
    [message] = slack.thread("C0CHAN", ts)
    assert message.visible.startswith("one two")
    assert not message.streaming
    assert slack.reactions_on("C0CHAN", ts) == []
    await next_question_is_answered(bot, slack, ts)


async def test_an_html_page_on_an_append_never_shows_text_twice(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    html_page = lambda: slack.fail_raw("chat.appendStream", status=504)  # noqa: E731
    await count_past_a_failing_append(bot, slack, bedrock, html_page, "3")
    await next_question_is_answered(bot, slack)


async def test_html_pages_from_every_method_at_first_still_end_in_an_answer(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    slack.fail_raw("*", status=503, times=3)  # the sign of life and the first writes
    event = mention("anyone there")

    await bot.send_event(event)

    await slack.wait_for(
        lambda: any("You said: anyone there" in t for t in thread_text(slack, event["ts"])),
        timeout=15,
    )
    await slack.wait_for(lambda: slack.reactions_on("C0CHAN", event["ts"]) == [])
    # The answer's words can show before its stream is stopped: wait for the stop.
    await slack.wait_for(lambda: all(not m.streaming for m in slack.thread("C0CHAN", event["ts"])))
    await next_question_is_answered(bot, slack)


async def test_update_mode_survives_empty_and_cut_off_bodies(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update")
    slack.fail_raw("chat.postMessage", status=200, body="", content_type="application/json")
    slack.fail_raw(
        "chat.update", status=200, body='{"ok": true, "ts', content_type="application/json"
    )
    event = mention("update me")

    await bot.send_event(event)

    await slack.wait_for(lambda: "You said: update me" in "".join(thread_text(slack, event["ts"])))
    assert not any("Thinking" in t for t in thread_text(slack, event["ts"]))
    await next_question_is_answered(bot, slack)


async def test_a_refused_stop_lands_the_text_with_chat_update_and_closes_the_stream(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    ts, release = await streamed_answer(bot, slack, bedrock)
    slack.fail("chat.stopStream", "invalid_blocks")
    release.set()

    await wait_finished(slack)
    [message] = slack.thread("C0CHAN", ts)
    assert message.visible.startswith("one two")
    assert not message.streaming, "the stream is closed, not left open beside the update"
    assert any(c.ok for c in slack.calls_to("chat.update"))
    await next_question_is_answered(bot, slack, ts)


async def test_a_final_write_slack_keeps_refusing_gives_up_at_the_deadline_and_frees_the_thread(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(FINAL_WRITE_DEADLINE_SECONDS="2")
    ts, release = await streamed_answer(bot, slack, bedrock)
    slack.rate_limit("chat.stopStream", retry_after=1, times=10_000)
    caplog.set_level(logging.INFO)
    release.set()

    await wait_finished(slack)  # the sign of life is cleared though the answer never landed
    given_up = [r for r in caplog.records if "final write deadline passed" in r.getMessage()]
    assert len(given_up) == 1 and getattr(given_up[0], "reference", "")
    assert slack.reactions_on("C0CHAN", ts) == []
    slack.clear_faults()
    await next_question_is_answered(bot, slack, ts)


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [(502, None, "text/html"), (200, '{"ok": true, "messages": "x"}', "application/json")],
    ids=["html-502", "messages-not-a-list"],
)
async def test_a_thread_slack_cannot_read_is_answered_without_its_context(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, status: int, body: str | None, content_type: str
) -> None:
    root = new_ts()
    slack.replies[("C0CHAN", root)] = [
        {"type": "message", "user": "U0ANN", "text": "hi", "ts": root}
    ]
    slack.fail_raw("conversations.replies", status=status, body=body, content_type=content_type)

    await bot.send_event(mention("late joiner", thread_ts=root))

    await wait_finished(slack)
    assert [i.input_text for i in bedrock.invocations] == ["late joiner"]
    assert any("You said: late joiner" in t for t in thread_text(slack, root))
