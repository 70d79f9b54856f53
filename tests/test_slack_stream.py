"""The answer writer against the fake Slack: progress steps, pacing after 429s, reposting.

These drive `AnswerStream` directly (the agents that emit Progress are scripted here), so each
behaviour of the writer is pinned down on the wire without an agent backend in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.events import Progress, Source, StepStatus
from bot.settings import StreamingMode
from bot.slack_budget import WriteBudget
from bot.slack_stream import AnswerStream
from tests.answers import answer_writer
from tests.fakes.slack import FakeSlack

CHANNEL = "C0WRITE"


@pytest.fixture
async def client(slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    web = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    yield web


async def begun(
    client: AsyncWebClient,
    *,
    mode: StreamingMode = StreamingMode.AUTO,
    show_progress: bool = True,
    budget: WriteBudget | None = None,
    channel: str = CHANNEL,
    user_team_id: str | None = None,
) -> tuple[AnswerStream, str]:
    """An answer writer for a new thread, begun: (the writer, the thread's ts)."""
    stream, thread = answer_writer(
        client,
        channel,
        mode=mode,
        budget=budget or WriteBudget(base_interval=0.05),
        show_progress=show_progress,
        user_team_id=user_team_id,
    )
    await stream.begin()
    return stream, thread


LOOKUP = Progress("kb-1", "Searching the handbook", StepStatus.IN_PROGRESS)
FOUND = Progress(
    "kb-1",
    "Searching the handbook",
    StepStatus.COMPLETE,
    (Source("Refunds", "https://example.com/refunds"),),
)
ACTION = Progress("act-1", "Looking up the order", StepStatus.IN_PROGRESS)


async def test_steps_show_as_a_plan_of_task_updates_beside_the_text(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stream, thread = await begun(client)
    stream.progress(LOOKUP)
    await slack.wait_for_calls("chat.startStream")
    stream.progress(FOUND)
    stream.append("Refunds take **5 days**.")
    stream.progress(ACTION)
    await slack.wait_for(lambda: len(slack.thread(CHANNEL, thread)[0].tasks) == 2)

    assert await stream.end(blocks=None)

    [message] = slack.thread(CHANNEL, thread)
    assert message.task_display_mode == "plan"
    assert message.visible == "Refunds take **5 days**.", "steps never enter the answer text"
    assert [(t["id"], t["status"]) for t in message.tasks] == [
        ("kb-1", "complete"),
        ("act-1", "complete"),  # still open at the end of a good answer: marked complete
    ]
    assert message.tasks[0]["sources"] == [
        {"type": "url", "url": "https://example.com/refunds", "text": "Refunds"}
    ]


async def test_a_step_still_open_when_the_answer_fails_is_marked_error(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stream, thread = await begun(client)
    stream.progress(ACTION)
    stream.append("Partial ")
    await slack.wait_for_calls("chat.startStream")

    stream.close_steps(failed=True)
    await stream.end(suffix="\n\n⚠️ interrupted")

    [message] = slack.thread(CHANNEL, thread)
    assert [t["status"] for t in message.tasks] == ["error"]
    assert message.visible.startswith("Partial")


async def test_a_step_that_ended_never_reopens(slack: FakeSlack, client: AsyncWebClient) -> None:
    stream, thread = await begun(client)
    stream.progress(FOUND)
    stream.progress(LOOKUP)  # a late, out-of-order "in progress" for a finished step
    stream.append("Done.")
    await stream.end()

    [message] = slack.thread(CHANNEL, thread)
    assert [t["status"] for t in message.tasks] == ["complete"]


async def test_with_progress_off_only_text_is_streamed(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stream, thread = await begun(client, show_progress=False)
    stream.progress(LOOKUP)
    stream.append("Just text.")
    await stream.end()

    [message] = slack.thread(CHANNEL, thread)
    assert message.tasks == [] and message.visible == "Just text."
    assert all("task_display_mode" not in c.args for c in slack.calls)


async def test_update_mode_shows_the_newest_step_as_one_status_line(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stream, thread = await begun(client, mode=StreamingMode.UPDATE)
    stream.progress(ACTION)
    await slack.wait_for(lambda: "Looking up the order" in slack.thread(CHANNEL, thread)[0].visible)
    stream.append("Your order shipped.")
    await stream.end()

    [message] = slack.thread(CHANNEL, thread)
    assert message.visible == "Your order shipped."
    assert message.versions[0].startswith("⏳") and "Looking up the order" in message.versions[1]


async def test_recipient_team_is_the_asker_s_team_for_slack_connect_users(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stream, _ = await begun(client, user_team_id="T0OTHER")
    stream.append("Hello from another org.")
    await slack.wait_for_calls("chat.startStream")
    await stream.end()

    [start] = slack.calls_to("chat.startStream")
    assert start.args["recipient_team_id"] == "T0OTHER"


async def test_after_one_429_the_next_write_follows_retry_after_and_shows_what_arrived(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    budget = WriteBudget(base_interval=0.05)
    slack.rate_limit("chat.startStream", retry_after=1, times=1)
    stream, thread = await begun(client, budget=budget)
    stream.append("one ")
    await slack.wait_for(lambda: slack.rate_limited == 1)
    stream.append("two ")

    await slack.wait_for(lambda: any(c.ok for c in slack.calls_to("chat.startStream")), 5)

    [refused, accepted] = slack.calls_to("chat.startStream")
    assert accepted.at - refused.at >= 1.0, "nothing inside Retry-After"
    assert accepted.args["markdown_text"] == "one two ", "the first write after it shows all"
    assert budget.interval("T0001") == 0.05, "one refusal does not slow the pace"
    assert slack.calls_inside_retry_after == 0
    await stream.end()
    assert slack.thread(CHANNEL, thread)[0].visible == "one two "


async def test_a_final_held_back_by_chat_update_is_posted_anew_and_the_old_message_deleted(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stream, thread = await begun(client, mode=StreamingMode.UPDATE)
    slack.rate_limit("chat.update", retry_after=1, times=20)
    stream.append("First part. ")
    await slack.wait_for(lambda: slack.rate_limited >= 2, 5)  # refused twice in a row
    stream.append("Second part.")

    assert await stream.end()

    # The old message goes in the background: the answer is complete without waiting for it.
    await slack.wait_for(lambda: [c.ok for c in slack.calls_to("chat.delete")] == [True])
    [message] = slack.thread(CHANNEL, thread)
    assert message.visible == "First part. Second part."
    assert slack.rate_limited == 2, "the final did not wait behind chat.update"
    assert slack.calls_inside_retry_after == 0
    slack.clear_faults()


async def test_a_refused_stream_is_remembered_for_that_channel_only(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    budget = WriteBudget(base_interval=0.05)
    slack.streaming_enabled = False
    for count, channel in enumerate(("C0ONE", "C0ONE", "C0TWO"), start=1):
        stream, thread = await begun(client, budget=budget, channel=channel)
        stream.append(f"answer {count}")
        if channel == "C0TWO":
            await slack.wait_for_calls("chat.startStream", 2)
        else:
            await slack.wait_for(lambda c=channel, t=thread: bool(slack.thread(c, t)))
        assert await stream.end()
        assert slack.thread(channel, thread)[-1].visible == f"answer {count}"

    starts = [c.args["channel"] for c in slack.calls_to("chat.startStream")]
    assert starts == ["C0ONE", "C0TWO"], "the second answer in C0ONE did not try again"


async def test_closing_blocks_go_under_the_last_message_only(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    paragraph = "lorem ipsum dolor sit amet " * 20 + "\n\n"
    stream, thread = await begun(client)
    for _ in range(50):  # ≈ 27,000 characters: three native messages
        stream.append(paragraph)
    feedback = [{"type": "actions", "block_id": "b", "elements": []}]

    assert await stream.end(blocks=feedback)

    messages = slack.thread(CHANNEL, thread)
    assert len(messages) == 3
    assert [bool(m.blocks) for m in messages] == [False, False, True]
    # Trailing blank lines are not visible text (a markdown block holds the last part).
    assert "".join(m.visible for m in messages).rstrip() == (paragraph * 50).rstrip()
