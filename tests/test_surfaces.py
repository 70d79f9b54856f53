"""End to end: /order, DMs with status and prompts, citations, feedback, ALLOWED_CHANNELS."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.answers import S3, WEB, answer_to, ask_in_turn
from tests.conftest import StartBot
from tests.fakes.bedrock import HttpError, Script, Text
from tests.fakes.knowledge_base import FakeBedrockWithKnowledgeBase
from tests.fakes.signing import FORM_CONTENT_TYPE, interaction_body, slash_command_body
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_state import Message
from tests.harness import (
    REDIS_URL,
    Bot,
    FakeAgent,
    dm,
    expected_session,
    mention,
    thread_keys,
    with_knowledge_base,
)

CITATIONS = [
    {"retrievedReferences": [{"location": WEB, "metadata": {"title": "Vacation policy"}}]},
    {
        "retrievedReferences": [
            {"location": S3},
            {"location": WEB, "metadata": {"title": "Vacation policy"}},
        ]
    },
]


async def slash(bot: Bot, slack: FakeSlack, text: str, **kwargs: Any) -> tuple[int, str, str]:
    """Send /order; returns (status, ack body, response_url id)."""
    hook = uuid.uuid4().hex[:8]
    body = slash_command_body(
        "/order", text, response_url=slack.response_url(hook), trigger_id=f"trig-{hook}", **kwargs
    )
    response = await bot.post_signed(body, content_type=FORM_CONTENT_TYPE)
    return response.status, await response.text(), hook


async def test_order_command_answers_privately_through_response_url(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(Script.answer("Order **ORD-88421** shipped yesterday.", chunk_size=7))

    status, ack, hook = await slash(bot, slack, "ORD-88421", user_id="U0ASK", channel_id="C0CHAN")

    assert status == 200
    assert json.loads(ack) == {"response_type": "ephemeral", "text": "Looking up ORD-88421…"}
    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    [reply] = slack.responses[hook]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is True
    # Markdown that Slack renders itself (a markdown block), plain words for notifications.
    assert [b["type"] for b in reply["blocks"]] == ["markdown", "context_actions"]
    assert reply["blocks"][0]["text"] == "Order **ORD-88421** shipped yesterday."
    assert reply["text"] == "Order ORD-88421 shipped yesterday."
    assert slack.responses_visible(hook) == ["Order **ORD-88421** shipped yesterday."]
    [invocation] = bedrock.invocations
    assert invocation.session_attributes == {
        "slackTeamId": "T0001",
        "slackChannelId": "C0CHAN",
        "slackUserId": "U0ASK",
        "orderId": "ORD-88421",
    }
    assert "ORD-88421" in invocation.input_text
    assert invocation.session_id == expected_session(bedrock, "T0001:order:U0ASK:g1")
    assert not slack.calls_to("chat.postMessage") and not slack.calls_to("chat.startStream")


async def test_order_command_without_a_valid_id_shows_usage_and_asks_no_one(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    for text in ("", "help", "88421", "ORD-88421; drop table", "A-1"):
        status, ack, _ = await slash(bot, slack, text)
        assert status == 200
        assert json.loads(ack)["response_type"] == "ephemeral"
        assert "Usage: `/order <order-id>`" in json.loads(ack)["text"]
    await bot.send_event(mention("control question"))
    await bedrock.wait_for_invocations(1)
    assert [i.input_text for i in bedrock.invocations] == ["control question"]
    assert slack.responses == {}


async def test_order_errors_reach_the_caller_the_same_private_way(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(
        Script([HttpError(403, "AccessDeniedException", "not allowed: arn:aws:iam::123")])
    )

    _, _, hook = await slash(bot, slack, "ORD-12345")

    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    [reply] = slack.responses[hook]
    assert reply["response_type"] == "ephemeral"
    [shown] = slack.responses_visible(hook)
    assert "misconfigured" in shown and "ref `" in shown
    assert "misconfigured" in reply["text"] and "`" not in reply["text"]  # plain fallback
    assert "arn:aws" not in json.dumps(reply)


@with_knowledge_base
async def test_a_top_level_dm_is_answered_in_its_own_thread_with_status_and_loading_messages(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    event = dm("how many vacation days do I get?\nI joined in May.")

    answer = await answer_to(bot, slack, event)

    assert answer.visible.startswith("You said: how many vacation days do I get?")
    assert not [m for m in slack.messages.values() if m.channel == "D0DM" and not m.thread_ts]
    [thinking, cleared] = slack.calls_to("assistant.threads.setStatus")
    assert thinking.args["thread_ts"] == event["ts"] and thinking.args["status"] == "is thinking…"
    assert len(thinking.args["loading_messages"]) >= 2
    assert cleared.args["status"] == ""
    assert slack.titles[("D0DM", event["ts"])] == "how many vacation days do I get?"
    [invocation] = bedrock.invocations
    if not isinstance(bedrock, FakeBedrockWithKnowledgeBase):  # there Bedrock issues the id
        assert invocation.session_id == expected_session(bedrock, f"T0001:D0DM:{event['ts']}:g1")


async def test_a_reply_in_a_dm_thread_continues_that_conversation(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    first = dm("how many vacation days do I get?")

    await ask_in_turn(bot, slack, first, dm("and sick days?", thread_ts=first["ts"]))

    one, two = bedrock.invocations
    assert two.session_id == one.session_id
    assert [m.visible.splitlines()[0] for m in slack.thread("D0DM", first["ts"])] == [
        "You said: how many vacation days do I get?",
        "You said: and sick days?",
    ]
    assert len(slack.calls_to("assistant.threads.setTitle")) == 1  # only a new thread is named


async def test_a_new_top_level_dm_starts_a_new_conversation_and_session(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    first, second = dm("vacation days?"), dm("something else entirely")

    await ask_in_turn(bot, slack, first, second)

    one, two = bedrock.invocations
    assert two.session_id != one.session_id
    if not isinstance(bedrock, FakeBedrockWithKnowledgeBase):  # there Bedrock issues the id
        assert two.session_id == expected_session(bedrock, f"T0001:D0DM:{second['ts']}:g1")
    assert two.conversation_history == []
    assert len(slack.thread("D0DM", second["ts"])) == 1


async def test_opening_the_messages_tab_shows_the_configured_prompts_once(
    start: StartBot, slack: FakeSlack
) -> None:
    bot = await start(
        SUGGESTED_PROMPTS="Vacation days?|Expense reports?", SUGGESTED_PROMPTS_TITLE="Try"
    )
    opened = {"type": "app_home_opened", "user": "U0USER", "channel": "D0DM", "tab": "messages"}

    await bot.send_event(opened)
    await bot.send_event(opened)
    await bot.send_event(opened | {"tab": "home"})
    await bot.send_event(opened | {"user": "U0OTHER"})

    await slack.wait_for(lambda: len(slack.calls_to("assistant.threads.setSuggestedPrompts")) == 2)
    first, _ = slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert first.args["channel_id"] == "D0DM" and "thread_ts" not in first.args
    assert first.args["prompts"] == [
        {"title": "Vacation days?", "message": "Vacation days?"},
        {"title": "Expense reports?", "message": "Expense reports?"},
    ]
    assert first.args["title"] == "Try"


@pytest.mark.not_harness("the harness's typed stream has no citation events")
async def test_citations_become_numbered_sources_under_the_answer(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(
        Script([Text("You get 25 days [1]."), Text(" Benefits differ [2].", citations=CITATIONS)])
    )

    message = await answer_to(bot, slack, mention("vacation?"))

    assert message.visible == (
        "You get 25 days [1]. Benefits differ [2].\n\n**Sources**\n"
        "1. [Vacation policy](https://wiki.example.com/hr/vacation)\n"
        "2. benefits.pdf"
    )


async def click(bot: Bot, slack: FakeSlack, message: Any, vote: str, *, user: str = "U0FAN") -> str:
    """Click 👍 (vote "positive") or 👎 ("negative") of an answer's feedback_buttons."""
    [block] = [b for b in message.blocks if b.get("type") == "context_actions"]
    [buttons] = [e for e in block["elements"] if e["type"] == "feedback_buttons"]
    hook = uuid.uuid4().hex[:8]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": user},
        "api_app_id": "A0001",
        "trigger_id": "t",
        "response_url": slack.response_url(hook),
        "channel": {"id": message.channel},
        "container": {"type": "message", "message_ts": message.ts},
        "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
        "actions": [
            {
                # A feedback_buttons click names the element and carries the chosen button's value.
                "type": "feedback_buttons",
                "action_id": buttons["action_id"],
                "block_id": block["block_id"],
                "value": buttons[f"{vote}_button"]["value"],
                "action_ts": "1",
            }
        ],
    }
    response = await bot.post_signed(interaction_body(payload), content_type=FORM_CONTENT_TYPE)
    assert response.status == 200
    return hook


async def feedback_votes(redis_prefix: str, answer: Message) -> dict[bytes, bytes]:
    """The feedback Redis holds for the conversation of `answer`'s thread: voter → vote."""
    redis = Redis.from_url(REDIS_URL)
    assert answer.thread_ts is not None
    keys, conversation = thread_keys(redis_prefix, answer.thread_ts, answer.channel)
    votes: dict[bytes, bytes] = await redis.hgetall(keys.feedback(conversation))
    await redis.aclose()
    return votes


async def test_native_feedback_clicks_are_counted_in_redis_and_metrics(
    bot: Bot, slack: FakeSlack, redis_prefix: str
) -> None:
    message = await answer_to(bot, slack, mention("rate me"))

    down = await click(bot, slack, message, "negative")
    up = await click(bot, slack, message, "positive", user="U0OTHER")

    await slack.wait_for(lambda: bool(slack.responses.get(down) and slack.responses.get(up)))
    assert slack.responses[down][0]["text"] == "Thanks for the feedback!"
    assert slack.responses[down][0]["response_type"] == "ephemeral"
    votes = await feedback_votes(redis_prefix, message)
    by_user = {
        who.decode().rsplit(":", 1)[1]: vote.decode().split(":")[0] for who, vote in votes.items()
    }
    assert by_user == {"U0FAN": "down", "U0OTHER": "up"}
    _, metrics = await bot.get("/metrics")
    assert 'slackbot_feedback_total{vote="down"} 1.0' in metrics
    assert 'slackbot_feedback_total{vote="up"} 1.0' in metrics


@with_knowledge_base
async def test_feedback_in_a_dm_thread_follows_that_thread(
    bot: Bot, slack: FakeSlack, redis_prefix: str
) -> None:
    message = await answer_to(bot, slack, dm("rate me"))

    hook = await click(bot, slack, message, "positive", user="U0USER")

    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    [vote] = (await feedback_votes(redis_prefix, message)).values()
    assert vote.decode().startswith("up:")
    assert message.visible.startswith("You said: rate me")


@with_knowledge_base
async def test_outside_allowed_channels_one_polite_note_and_no_agent_call(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(ALLOWED_CHANNELS="C0OK,C0ALSO")
    await bot.send_event(mention("hello?", channel="C0NOPE"))
    await bot.send_event(mention("hello again?", channel="C0NOPE"))
    allowed = mention("allowed here", channel="C0OK")
    await bot.send_event(allowed)
    await bot.send_event(dm("and in a DM"))

    await bedrock.wait_for_invocations(2)
    assert sorted(i.input_text for i in bedrock.invocations) == ["allowed here", "and in a DM"]
    [note] = slack.calls_to("chat.postEphemeral")
    assert note.args["channel"] == "C0NOPE" and note.args["user"] == "U0USER"
    assert "only answer in a few channels" in note.args["text"]
