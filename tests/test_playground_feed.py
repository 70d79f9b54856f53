"""The playground page's event feed, and the in-process Slack that fills it."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.playground.composer import parse_composer
from bot.playground.feed import Feed
from bot.playground.model import CHANNEL_ID, DM_ID, ApiError, ResponseTarget
from bot.playground.render import markdown_html, message_html, mrkdwn_html
from bot.playground.workspace import Workspace


def frames(raw: bytes) -> list[dict[str, str]]:
    """Parse Server-Sent Events frames the way EventSource does (id, event, data)."""
    out = []
    for block in raw.decode().strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append(fields)
    return out


async def test_published_events_are_numbered_and_replayed_after_the_last_seen_id() -> None:
    feed = Feed()
    for n in range(3):
        feed.publish("message", {"n": n})
    replay = feed.after(1)
    assert replay is not None
    assert [e.id for e in replay] == [2, 3]
    assert [e.data["n"] for e in replay] == [1, 2]
    assert feed.after(3) == []


async def test_a_page_too_far_behind_or_from_another_run_needs_a_fresh_snapshot() -> None:
    feed = Feed(keep=2)
    for n in range(5):
        feed.publish("message", {"n": n})
    assert feed.after(1) is None  # events 2 and 3 are no longer kept
    assert [e.id for e in feed.after(3) or []] == [4, 5]
    assert feed.after(99) is None  # a Last-Event-ID this server never handed out


async def test_a_waiting_page_wakes_up_when_something_is_published() -> None:
    feed = Feed()
    waiting = asyncio.create_task(feed.wait_after(0, within=5))
    await asyncio.sleep(0)
    feed.publish("status", {"status": "is thinking…"})
    events = await asyncio.wait_for(waiting, 5)
    assert events is not None
    assert [e.kind for e in events] == ["status"]


async def test_a_wait_with_nothing_new_ends_empty_for_a_keep_alive() -> None:
    assert await Feed().wait_after(0, within=0.01) == []


async def test_an_event_is_one_server_sent_events_frame_with_its_id() -> None:
    feed = Feed()
    event = feed.publish("message", {"ts": "1.000001", "html": "<p>a\nb</p>"})
    (frame,) = frames(event.sse())
    assert frame["id"] == "1" and frame["event"] == "message"
    assert json.loads(frame["data"]) == {"ts": "1.000001", "html": "<p>a\nb</p>"}


def bot_messages(events: list[tuple[str, dict[str, object]]]) -> list[dict[str, object]]:
    return [data for kind, data in events if kind == "message" and data["author"] == "bot"]


async def test_every_stream_write_reaches_the_feed_as_the_grown_message() -> None:
    workspace = Workspace(Feed())
    question = workspace.post_user_message(CHANNEL_ID, "<@UBOT> hi", None)
    started = workspace.call(
        "chat.startStream",
        {"channel": CHANNEL_ID, "thread_ts": question.ts, "markdown_text": "Hello"},
    )
    workspace.call(
        "chat.appendStream",
        {"channel": CHANNEL_ID, "ts": started["ts"], "markdown_text": " **world**"},
    )
    workspace.call(
        "chat.stopStream",
        {
            "channel": CHANNEL_ID,
            "ts": started["ts"],
            "blocks": json.dumps(
                [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "action_id": "feedback_up",
                                "text": {"type": "plain_text", "text": "👍"},
                                "value": "v",
                            }
                        ],
                    }
                ]
            ),
        },
    )
    events = workspace.feed.after(0) or []
    shown = [e.data for e in events if e.kind == "message" and e.data["author"] == "bot"]
    assert [m["streaming"] for m in shown] == [True, True, False]
    assert shown[0]["html"] == "<p>Hello</p>"
    assert shown[1]["html"] == "<p>Hello <strong>world</strong></p>"
    assert "<button" in str(shown[2]["html"]) and 'data-action-id="feedback_up"' in str(
        shown[2]["html"]
    )
    assert all(m["thread_ts"] == question.ts for m in shown)


async def test_a_stream_that_was_stopped_refuses_appends_like_slack() -> None:
    workspace = Workspace(Feed())
    question = workspace.post_user_message(CHANNEL_ID, "hi", None)
    ts = workspace.call("chat.startStream", {"channel": CHANNEL_ID, "thread_ts": question.ts})["ts"]
    workspace.call("chat.stopStream", {"channel": CHANNEL_ID, "ts": ts, "markdown_text": "done"})
    with pytest.raises(ApiError, match="message_not_in_streaming_state"):
        workspace.call("chat.appendStream", {"channel": CHANNEL_ID, "ts": ts, "markdown_text": "x"})


async def test_a_bot_reply_clears_the_thinking_status_of_its_thread() -> None:
    workspace = Workspace(Feed())
    question = workspace.post_user_message(DM_ID, "hi", None)
    workspace.call(
        "assistant.threads.setStatus",
        {"channel_id": DM_ID, "thread_ts": question.ts, "status": "is thinking…"},
    )
    workspace.call(
        "chat.postMessage", {"channel": DM_ID, "thread_ts": question.ts, "text": "hello"}
    )
    statuses = [e.data["status"] for e in workspace.feed.after(0) or [] if e.kind == "status"]
    assert statuses == ["is thinking…", ""]


async def test_a_command_answer_replaces_its_ephemeral_looking_up_note() -> None:
    workspace = Workspace(Feed())
    key = workspace.add_response_url(ResponseTarget(CHANNEL_ID, None, label="/order ORD-1"))
    note = workspace.respond(key, {"response_type": "ephemeral", "text": "Looking up ORD-1…"})
    answer = workspace.respond(key, {"text": "*Shipped*", "replace_original": True})
    assert answer.ts == note.ts and note.ephemeral and note.label == "/order ORD-1"
    assert note.page()["html"] == "<strong>Shipped</strong>"
    assert (
        workspace.call("conversations.replies", {"channel": CHANNEL_ID, "ts": note.ts})["messages"]
        == []
    )


async def test_a_reconnecting_page_gets_every_message_status_and_prompt_in_the_snapshot() -> None:
    workspace = Workspace(Feed())
    workspace.post_user_message(DM_ID, "hi", None)
    workspace.call(
        "assistant.threads.setSuggestedPrompts",
        {
            "channel_id": DM_ID,
            "title": "Ask",
            "prompts": json.dumps([{"title": "A", "message": "a"}]),
        },
    )
    kinds = [kind for kind, _ in workspace.snapshot()]
    assert kinds == ["message", "prompts"]


def test_mrkdwn_renders_the_slack_way_and_escapes_everything_else() -> None:
    rendered = mrkdwn_html("*bold* _it_ ~no~ `x<y` <https://e.com|site> <@UBOT> <script>")
    assert "<strong>bold</strong>" in rendered and "<em>it</em>" in rendered
    assert "<del>no</del>" in rendered and "<code>x&lt;y</code>" in rendered
    assert '<a href="https://e.com" target="_blank" rel="noopener">site</a>' in rendered
    assert "@Bedrock Agent" in rendered and "<script>" not in rendered


def test_markdown_from_the_agent_cannot_inject_markup() -> None:
    assert "<img" not in markdown_html('hi <img src=x onerror="alert(1)">')
    assert "<img" not in message_html(
        text="<img src=x>", markdown_text="", blocks=[], chunks=[], streamed=False
    )


def test_composer_lines_become_mentions_or_slash_commands() -> None:
    assert parse_composer("  ") is None
    asked = parse_composer("@Bedrock Agent what is new?")
    assert asked is not None and asked.text == "<@UBOT> what is new?" and asked.mentions_bot
    plain = parse_composer("hello team")
    assert plain is not None and not plain.mentions_bot and plain.command is None
    order = parse_composer("/order  ORD-88421 ")
    assert order is not None and (order.command, order.text) == ("/order", "ORD-88421")


def test_task_updates_show_as_one_card_per_step_with_its_latest_status() -> None:
    chunks = [
        {
            "type": "task_update",
            "id": "kb",
            "title": "Searching the handbook",
            "status": "in_progress",
        },
        {"type": "task_update", "id": "act", "title": "Cancelling", "status": "pending"},
        {
            "type": "task_update",
            "id": "kb",
            "title": "Searching the handbook",
            "status": "complete",
        },
    ]
    rendered = message_html(text="", markdown_text="Hi", blocks=[], chunks=chunks, streamed=True)
    assert rendered.count('<li class="task') == 2
    assert rendered.index("✅ Searching the handbook") < rendered.index("○ Cancelling")
    assert rendered.endswith("<p>Hi</p>"), "steps never replace or reorder the answer text"
