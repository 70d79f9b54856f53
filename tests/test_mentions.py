"""End to end: an @mention in a channel is answered, streamed, in the thread of that message."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from tests.conftest import StartBot
from tests.fakes.bedrock import Pause, RaiseInStream, Script, Text
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, new_ts


def replies(slack: FakeSlack, channel: str, thread_ts: str) -> list[str]:
    return [m.visible for m in slack.thread(channel, thread_ts)]


async def answered(slack: FakeSlack, thread_ts: str, expected: str) -> None:
    """Wait until a reply in thread `thread_ts` of C0CHAN shows `expected`."""
    await slack.wait_for(lambda: any(expected in t for t in replies(slack, "C0CHAN", thread_ts)))


async def ask_until_shown(bot: Bot, slack: FakeSlack, event: dict[str, str], shown: str) -> None:
    """Send `event` (in C0CHAN); wait until its thread shows `shown`."""
    await bot.send_event(event)
    await answered(slack, event["ts"], shown)


async def test_native_stream_shows_partial_text_before_the_agent_finishes(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    release = asyncio.Event()
    bedrock.enqueue(
        Script(
            [
                Text("The refund policy "),
                Text("is **30 days**."),
                Pause(5, until=release),
                Text(" Ask HR."),
            ]
        )
    )
    event = mention("what is the refund policy?")

    response = await bot.send_event(event)

    assert response.status == 200
    await slack.wait_for(lambda: any("30 days" in t for t in replies(slack, "C0CHAN", event["ts"])))
    assert not any("Ask HR" in t for t in replies(slack, "C0CHAN", event["ts"]))
    release.set()
    await slack.wait_for_calls("chat.stopStream")
    [message] = slack.thread("C0CHAN", event["ts"])
    assert message.visible == "The refund policy is **30 days**. Ask HR."
    assert message.streamed and not message.streaming
    starts = slack.calls_to("chat.startStream")
    assert starts[0].args["recipient_user_id"] == "U0USER"
    assert starts[0].args["recipient_team_id"] == "T0001"


async def test_sign_of_life_reaction_is_added_then_removed(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    release = asyncio.Event()
    bedrock.enqueue(Script([Pause(5, until=release), Text("Done.")]))
    event = mention("slow question")

    await bot.send_event(event)

    await slack.wait_for_calls("reactions.add")
    assert slack.reactions_on("C0CHAN", event["ts"]) == ["eyes"]
    release.set()
    await slack.wait_for_calls("reactions.remove")
    assert slack.reactions_on("C0CHAN", event["ts"]) == []
    assert replies(slack, "C0CHAN", event["ts"]) == ["Done."]


async def test_update_mode_turns_the_placeholder_into_the_answer(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update")
    release = asyncio.Event()
    bedrock.enqueue(
        Script(
            [
                Text("Orders ship in **2 days**"),
                Pause(5, until=release),
                Text(" from [our site](https://example.com)."),
            ]
        )
    )
    event = mention("when do orders ship?")

    await bot.send_event(event)

    await slack.wait_for(lambda: any("2 days" in t for t in replies(slack, "C0CHAN", event["ts"])))
    release.set()
    await answered(slack, event["ts"], "example.com")
    [message] = slack.thread("C0CHAN", event["ts"])
    assert message.versions[0].startswith("⏳")
    # Slack renders the Markdown itself (markdown_text, then a markdown block under which the
    # feedback goes), from the placeholder on; `text` is only the plain notification fallback.
    [placeholder] = slack.calls_to("chat.postMessage")
    assert placeholder.args["markdown_text"].startswith("⏳") and "text" not in placeholder.args
    assert all(
        "markdown_text" in c.args or "blocks" in c.args for c in slack.calls_to("chat.update")
    )
    assert message.visible == "Orders ship in **2 days** from [our site](https://example.com)."
    assert message.text == "Orders ship in 2 days from our site."
    assert not slack.calls_to("chat.startStream")
    lengths = [len(v) for v in message.versions[1:]]
    assert lengths == sorted(lengths), "visible text must only grow"


async def test_auto_mode_falls_back_to_updates_when_slack_refuses_streaming(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    slack.streaming_enabled = False
    bedrock.enqueue(Script.answer("A complete answer in several chunks.", chunk_size=8))
    event = mention("hello")

    await ask_until_shown(bot, slack, event, "several chunks.")
    assert replies(slack, "C0CHAN", event["ts"]) == ["A complete answer in several chunks."]
    assert [c.error for c in slack.calls_to("chat.startStream")] == ["unknown_method"]


async def test_whole_answer_in_one_chunk_is_delivered(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    # An agent without streaming permission sends the final answer as one chunk.
    bedrock.enqueue(Script.answer("One single chunk with everything.", chunk_size=10_000))
    event = mention("hi")

    await ask_until_shown(bot, slack, event, "everything.")
    assert replies(slack, "C0CHAN", event["ts"]) == ["One single chunk with everything."]


async def test_the_agent_gets_the_question_without_the_mention_and_slack_ids(
    bot: Bot, bedrock: FakeAgent
) -> None:
    await bot.send_event(mention("  what's   <@U0OTHER> doing?", user="U0ASKER", channel="C0XYZ"))

    [invocation] = await bedrock.wait_for_invocations(1)
    assert invocation.input_text == "what's <@U0OTHER> doing?"
    assert invocation.session_attributes == {
        "slackTeamId": "T0001",
        "slackChannelId": "C0XYZ",
        "slackUserId": "U0ASKER",
    }


@pytest.mark.bedrock_only(
    "streamingConfigurations and enableTrace are InvokeAgent parameters; an AgentCore runtime "
    "streams and reports usage as its container does"
)
async def test_bedrock_agents_stream_the_final_response_and_trace_usage(
    bot: Bot, bedrock: FakeAgent
) -> None:
    await bot.send_event(mention("stream please"))

    [invocation] = await bedrock.wait_for_invocations(1)
    assert invocation.body["streamingConfigurations"] == {"streamFinalResponse": True}
    assert invocation.body["enableTrace"] is True


async def test_session_id_is_valid_and_stable_per_thread(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    first = mention("first question")
    await ask_until_shown(bot, slack, first, "first question")
    await bot.send_event(mention("follow-up", thread_ts=first["ts"]))
    await bot.send_event(mention("another thread"))

    invocations = await bedrock.wait_for_invocations(3)
    sessions = {i.input_text: i.session_id for i in invocations}
    assert all(bedrock.session_id_pattern.fullmatch(s) for s in sessions.values())
    assert sessions["first question"] == sessions["follow-up"]
    assert sessions["another thread"] != sessions["first question"]


async def test_bad_or_stale_signatures_get_401_and_no_agent_call(
    bot: Bot, bedrock: FakeAgent
) -> None:
    body = json.dumps({"type": "event_callback", "event": mention("hi"), "event_id": "Ev1"})

    wrong = await bot.post_signed(body, secret="not-the-secret")
    stale = await bot.post_signed(body, timestamp=int(time.time()) - 600)
    unsigned = await bot.http.post(f"{bot.url}/slack/events", data=body)

    assert (wrong.status, stale.status, unsigned.status) == (401, 401, 401)
    await bot.send_event(mention("the only real question"))
    invocations = await bedrock.wait_for_invocations(1)
    assert [i.input_text for i in invocations] == ["the only real question"]
    assert len(bedrock.invocations) == 1


async def test_bot_messages_and_edits_never_reach_the_agent(bot: Bot, bedrock: FakeAgent) -> None:
    from_bot = mention("I am a bot") | {"bot_id": "B0OTHER"}
    from_self = mention("I am me", user="UBOT")
    edited = mention("edited") | {"edited": {"user": "U0USER", "ts": new_ts()}}
    changed = mention("changed") | {"subtype": "message_changed"}
    for event in (from_bot, from_self, edited, changed):
        assert (await bot.send_event(event)).status == 200

    await bot.send_event(mention("a real person asks"))

    invocations = await bedrock.wait_for_invocations(1)
    assert [i.input_text for i in invocations] == ["a real person asks"]
    assert len(bedrock.invocations) == 1


async def test_an_empty_mention_gets_a_hint_and_no_agent_call(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    event = mention("   ")

    await ask_until_shown(bot, slack, event, "Ask me something")
    assert bedrock.invocations == []


async def test_agent_error_in_stream_is_shown_with_a_reference(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(
        Script([Text("Partial answer"), RaiseInStream("internalServerException", "boom")])
    )
    event = mention("question")

    await ask_until_shown(bot, slack, event, "interrupted")
    [text] = replies(slack, "C0CHAN", event["ts"])
    assert text.startswith("Partial answer")
    assert re.search(r"ref `[0-9a-f]{8}`", text)
    assert "boom" not in text


async def test_health_endpoint_answers(bot: Bot) -> None:
    status, body = await bot.get("/healthz")
    assert status == 200 and json.loads(body) == {"ok": True}
