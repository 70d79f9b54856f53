"""FakeSlack driven by the real slack_sdk AsyncWebClient (and Bolt), plus the signing helpers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from urllib.parse import parse_qs

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.signing import (
    event_body,
    event_envelope,
    interaction_body,
    signed_headers,
    slash_command_body,
)
from tests.fakes.slack import FakeSlack

CHANNEL = "C0100"
THREAD = "1690000000.000001"
RECIPIENT = {"recipient_team_id": "T0001", "recipient_user_id": "U0001"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        yield slack


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[])


async def error_of(call: Awaitable[object]) -> SlackApiError:
    """Await a client call that must fail; return the SlackApiError."""
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def test_auth_test_has_slack_shape(fake: FakeSlack, client: AsyncWebClient) -> None:
    res = await client.auth_test()
    assert res["ok"] is True
    assert (res["team_id"], res["user_id"], res["bot_id"]) == ("T0001", "UBOT", "BBOT")
    assert res["url"].startswith("https://")
    assert fake.calls_to("auth.test")[0].status == 200


async def test_post_then_update_tracks_visible_and_versions(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel=CHANNEL, thread_ts=THREAD, text="thinking…")
    second = await client.chat_postMessage(channel=CHANNEL, thread_ts=THREAD, text="part 2")
    assert first["channel"] == CHANNEL and first["message"]["text"] == "thinking…"
    assert first["ts"] < second["ts"] and first["ts"].startswith("1700000000.")

    await client.chat_update(channel=CHANNEL, ts=first["ts"], text="answer")
    await client.chat_update(channel=CHANNEL, ts=first["ts"], markdown_text="**answer**")

    msg = fake.messages[(CHANNEL, first["ts"])]
    assert msg.visible == "**answer**"
    assert msg.versions == ["thinking…", "answer", "**answer**"]
    assert [m.visible for m in fake.thread(CHANNEL, THREAD)] == ["**answer**", "part 2"]
    assert [c.args["text"] for c in fake.calls_to("chat.postMessage")] == ["thinking…", "part 2"]


async def test_blocks_only_message_shows_block_text(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Hello"}},
        {"type": "divider"},
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "world"}]}
            ],
        },
    ]
    # Form-encoded, as some callers send it: `blocks` arrives as a JSON string.
    res = await client.api_call(
        "chat.postMessage", data={"channel": CHANNEL, "blocks": json.dumps(blocks)}
    )
    msg = fake.messages[(CHANNEL, res["ts"])]
    assert msg.blocks == blocks
    assert msg.visible == "Hello\nworld"


async def test_stream_accumulates_markdown_and_chunks(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    start = await client.chat_startStream(
        channel=CHANNEL, thread_ts=THREAD, markdown_text="Hel", **RECIPIENT
    )
    ts = start["ts"]
    await client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="lo ")
    await client.chat_appendStream(
        channel=CHANNEL,
        ts=ts,
        chunks=[{"type": "markdown_text", "text": "wor"}, {"type": "plan_update", "title": "P"}],
    )
    assert fake.messages[(CHANNEL, ts)].streaming
    stop = await client.chat_stopStream(channel=CHANNEL, ts=ts, markdown_text="ld")

    msg = fake.messages[(CHANNEL, ts)]
    assert stop["message"]["text"] == msg.visible == "Hello world"
    assert not msg.streaming
    assert msg.versions == ["Hel", "Hello ", "Hello wor", "Hello world"]
    assert [c["type"] for c in msg.chunks] == ["markdown_text", "plan_update"]

    err = await error_of(client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="x"))
    assert err.response["error"] == "message_not_in_streaming_state"


async def test_sdk_chat_stream_helper(fake: FakeSlack, client: AsyncWebClient) -> None:
    stream = await client.chat_stream(
        channel="D0001", thread_ts=THREAD, buffer_size=4, recipient_user_id="U0001"
    )
    for piece in ["Hi", " the", "re", "!"]:
        await stream.append(markdown_text=piece)
    await stream.stop()
    assert stream.ts is not None
    msg = fake.messages[("D0001", stream.ts)]
    assert msg.visible == "Hi there!" and not msg.streaming
    assert msg.versions == ["Hi the", "Hi there!"]  # buffered by the helper: 2 calls
    assert [c.method for c in fake.calls] == ["chat.startStream", "chat.stopStream"]


async def test_stream_rules(fake: FakeSlack, client: AsyncWebClient) -> None:
    err = await error_of(client.chat_startStream(channel=CHANNEL, thread_ts=THREAD))
    assert err.response["error"] == "missing_recipient_team_id"
    ts = (await client.chat_startStream(channel=CHANNEL, thread_ts=THREAD, **RECIPIENT))["ts"]

    err = await error_of(client.chat_update(channel=CHANNEL, ts=ts, text="x"))
    assert err.response["error"] == "streaming_state_conflict"
    err = await error_of(client.chat_delete(channel=CHANNEL, ts=ts))
    assert err.response["error"] == "cant_delete_message"
    err = await error_of(
        client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="y" * 12_001)
    )
    assert err.response["error"] == "msg_too_long"
    too_long = [{"type": "markdown_text", "text": "z" * 12_001}]
    err = await error_of(client.chat_stopStream(channel=CHANNEL, ts=ts, chunks=too_long))
    assert err.response["error"] == "msg_too_long"
    posted = await client.chat_postMessage(channel=CHANNEL, text="plain")
    err = await error_of(client.chat_stopStream(channel=CHANNEL, ts=posted["ts"]))
    assert err.response["error"] == "message_not_in_streaming_state"


async def test_expired_stream_refuses_appends_but_accepts_update(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    start = await client.chat_startStream(
        channel=CHANNEL, thread_ts=THREAD, markdown_text="partial", **RECIPIENT
    )
    fake.expire_stream(CHANNEL, start["ts"])
    for call in (
        client.chat_appendStream(channel=CHANNEL, ts=start["ts"], markdown_text="more"),
        client.chat_stopStream(channel=CHANNEL, ts=start["ts"]),
    ):
        assert (await error_of(call)).response["error"] == "message_not_in_streaming_state"
    await client.chat_update(channel=CHANNEL, ts=start["ts"], text="full answer")
    msg = fake.messages[(CHANNEL, start["ts"])]
    assert msg.expired and msg.visible == "full answer"
    assert msg.versions == ["partial", "full answer"]


async def test_streaming_disabled(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.streaming_enabled = False
    err = await error_of(client.chat_startStream(channel=CHANNEL, thread_ts=THREAD, **RECIPIENT))
    assert err.response["error"] == "unknown_method"
    assert not fake.messages


async def test_rate_limit_switch_surfaces_429(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.rate_limit("chat.postMessage", retry_after=3)
    err = await error_of(client.chat_postMessage(channel=CHANNEL, text="hi"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "3"
    assert err.response["error"] == "ratelimited"
    assert fake.rate_limited == 1 and not fake.messages
    await client.chat_postMessage(channel=CHANNEL, text="hi")
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]


async def test_fail_switch_counts_down(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("chat.update", "internal_error", times=2, status=500)
    ts = (await client.chat_postMessage(channel=CHANNEL, text="a"))["ts"]
    for _ in range(2):
        err = await error_of(client.chat_update(channel=CHANNEL, ts=ts, text="b"))
        assert (err.response.status_code, err.response["error"]) == (500, "internal_error")
    await client.chat_update(channel=CHANNEL, ts=ts, text="b")
    assert fake.messages[(CHANNEL, ts)].versions == ["a", "b"]


async def test_token_check(fake: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url, retry_handlers=[])
    err = await error_of(wrong.chat_postMessage(channel=CHANNEL, text="x"))
    assert err.response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=fake.api_url, retry_handlers=[])
    assert (await error_of(anonymous.auth_test())).response["error"] == "not_authed"
    # A token in a form body is accepted too, and is not recorded as an argument.
    res = await anonymous.api_call("auth.test", data={"token": "xoxb-test"})
    assert res["ok"] and "token" not in fake.calls[-1].args
    assert not fake.messages


async def test_argument_validation(fake: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel=CHANNEL, text="x"))["ts"]
    cases = [
        (client.chat_postMessage(channel=CHANNEL, text="x" * 40_001), "msg_too_long"),
        (client.chat_postMessage(channel=CHANNEL, markdown_text="x" * 12_001), "msg_too_long"),
        (
            client.chat_postMessage(channel=CHANNEL, text="a", markdown_text="b"),
            "markdown_text_conflict",
        ),
        (client.api_call("chat.postMessage", json={"channel": CHANNEL}), "no_text"),
        (client.api_call("chat.postMessage", json={"text": "x"}), "channel_not_found"),
        (client.chat_update(channel=CHANNEL, ts=ts, text="x" * 4_001), "msg_too_long"),
        (client.chat_update(channel=CHANNEL, ts="1.000001", text="x"), "message_not_found"),
        (
            client.api_call("chat.update", json={"channel": CHANNEL, "text": "x"}),
            "invalid_arguments",
        ),
        (client.api_call("chat.startStream", json={"channel": CHANNEL}), "invalid_arguments"),
        (client.api_call("foo.bar"), "unknown_method"),
    ]
    for call, expected in cases:
        assert (await error_of(call)).response["error"] == expected
    assert fake.messages[(CHANNEL, ts)].versions == ["x"]


async def test_ephemeral_and_delete(fake: FakeSlack, client: AsyncWebClient) -> None:
    eph = await client.chat_postEphemeral(channel=CHANNEL, user="U0001", text="only you")
    msg = fake.messages[(CHANNEL, eph["message_ts"])]
    assert msg.ephemeral_user == "U0001"
    err = await error_of(client.chat_update(channel=CHANNEL, ts=eph["message_ts"], text="x"))
    assert err.response["error"] == "message_not_found"

    ts = (await client.chat_postMessage(channel=CHANNEL, thread_ts=THREAD, text="bye"))["ts"]
    res = await client.chat_delete(channel=CHANNEL, ts=ts)
    assert (res["channel"], res["ts"]) == (CHANNEL, ts)
    assert fake.messages[(CHANNEL, ts)].deleted and fake.thread(CHANNEL, THREAD) == []


async def test_reactions(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.reactions_add(channel=CHANNEL, timestamp=THREAD, name="eyes")
    assert fake.reactions_on(CHANNEL, THREAD) == ["eyes"]
    err = await error_of(client.reactions_add(channel=CHANNEL, timestamp=THREAD, name="eyes"))
    assert err.response["error"] == "already_reacted"
    await client.reactions_remove(channel=CHANNEL, timestamp=THREAD, name="eyes")
    err = await error_of(client.reactions_remove(channel=CHANNEL, timestamp=THREAD, name="eyes"))
    assert err.response["error"] == "no_reaction"
    assert fake.user_messages[(CHANNEL, THREAD)].reactions == []


async def test_assistant_threads(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.assistant_threads_setStatus(
        channel_id="D0001", thread_ts=THREAD, status="is thinking…"
    )
    await client.assistant_threads_setTitle(channel_id="D0001", thread_ts=THREAD, title="Q")
    prompts = [{"title": "Hi", "message": "Say hi"}]
    await client.assistant_threads_setSuggestedPrompts(
        channel_id="D0001", thread_ts=THREAD, prompts=prompts
    )
    assert fake.status("D0001", THREAD) == "is thinking…"
    assert fake.titles[("D0001", THREAD)] == "Q"
    assert fake.suggested_prompts[("D0001", THREAD)]["prompts"] == prompts
    await client.chat_postMessage(channel="D0001", thread_ts=THREAD, text="answer")
    assert fake.status("D0001", THREAD) == ""  # Slack clears the status on reply
    assert fake.statuses[("D0001", THREAD)] == ["is thinking…"]


async def test_conversations_replies_merges_seed_and_bot_messages(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.replies[(CHANNEL, THREAD)] = [
        {"type": "message", "user": "U0001", "text": "q", "ts": THREAD}
    ]
    await client.chat_postMessage(channel=CHANNEL, thread_ts=THREAD, text="a")
    res = await client.conversations_replies(channel=CHANNEL, ts=THREAD)
    assert [m["text"] for m in res["messages"]] == ["q", "a"]
    assert res["has_more"] is False
    assert res["messages"][1]["bot_id"] == "BBOT"


async def test_views_publish_and_users_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    view = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    res = await client.views_publish(user_id="U0001", view=view)
    assert res["view"]["type"] == "home" and fake.views["U0001"] == view
    fake.users["U0001"] = {"tz": "Asia/Tokyo"}
    user = (await client.users_info(user="U0001"))["user"]
    assert (user["id"], user["tz"], user["is_bot"]) == ("U0001", "Asia/Tokyo", False)


async def test_wait_for(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def later() -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        await client.chat_postMessage(channel=CHANNEL, text="done")

    task = asyncio.create_task(later())
    await fake.wait_for(lambda: any(m.visible == "done" for m in fake.messages.values()))
    await task
    with pytest.raises(TimeoutError, match=r"chat\.postMessage"):
        await fake.wait_for(lambda: False, timeout=0.01)


async def test_set_limits_token_bucket(fake: FakeSlack, client: AsyncWebClient) -> None:
    now = [1000.0]
    fake.clock = lambda: now[0]
    fake.set_limits({"chat.postMessage": 6}, burst={"chat.postMessage": 2})
    await client.chat_postMessage(channel=CHANNEL, text="1")
    await client.chat_postMessage(channel=CHANNEL, text="2")
    err = await error_of(client.chat_postMessage(channel=CHANNEL, text="3"))
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "10"
    now[0] += 4.0  # 0.4 token: still limited, 6 s to go
    err = await error_of(client.chat_postMessage(channel=CHANNEL, text="3"))
    assert err.response.headers["Retry-After"] == "6"
    now[0] += 6.0
    await client.chat_postMessage(channel=CHANNEL, text="3")
    await client.auth_test()  # other methods are not limited
    assert fake.rate_limited == 2
    assert [m.text for m in fake.messages.values()] == ["1", "2", "3"]


async def test_response_url(fake: FakeSlack) -> None:
    webhook = AsyncWebhookClient(fake.response_url("cmd1"))
    res = await webhook.send(text="working on it", response_type="ephemeral")
    assert (res.status_code, res.body) == (200, "ok")
    assert fake.responses["cmd1"] == [{"text": "working on it", "response_type": "ephemeral"}]
    assert fake.calls_to("response_url")[0].args["id"] == "cmd1"


async def test_response_url_refuses_what_slack_would_and_shows_markdown_blocks(
    fake: FakeSlack,
) -> None:
    webhook = AsyncWebhookClient(fake.response_url("cmd2"))
    # markdown_text is no response_url field: alone, the message has nothing to show.
    only_markdown = await webhook.send_dict({"markdown_text": "**hi**"})
    unknown_block = await webhook.send(text="x", blocks=[{"type": "no_such_block"}])
    assert (only_markdown.status_code, only_markdown.body) == (400, "no_text")
    assert (unknown_block.status_code, unknown_block.body) == (400, "invalid_blocks")
    shown = await webhook.send(text="hi", blocks=[{"type": "markdown", "text": "**hi**"}])
    assert shown.status_code == 200
    assert fake.responses_visible("cmd2") == ["**hi**"]


async def test_latency_delays_each_answer(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.latency = 0.02
    started = time.monotonic()
    await client.auth_test()
    assert fake.calls[0].at - started >= 0.02


def test_signed_headers_verify_with_slack_sdk() -> None:
    body = slash_command_body("/ask", "what is 2+2?", response_url="https://x/y")
    headers = signed_headers(body, "s3cret")
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    assert SignatureVerifier("s3cret").is_valid_request(body.encode(), headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    stale = signed_headers(body, "s3cret", timestamp=int(time.time()) - 600)
    assert not SignatureVerifier("s3cret").is_valid_request(body, stale)
    fields = parse_qs(body)
    assert fields["command"] == ["/ask"] and fields["text"] == ["what is 2+2?"]


def test_body_builders() -> None:
    env = event_envelope({"type": "app_mention", "text": "hi"}, event_id="Ev1")
    assert (env["type"], env["event_id"], env["team_id"]) == ("event_callback", "Ev1", "T0001")
    assert env["authorizations"][0]["user_id"] == "UBOT"
    assert event_envelope({})["event_id"] != event_envelope({})["event_id"]
    body, content_type = event_body({"type": "app_mention"})
    assert json.loads(body)["event"] == {"type": "app_mention"}
    assert content_type == "application/json"
    payload = {"type": "block_actions", "actions": [{"action_id": "a"}]}
    assert json.loads(parse_qs(interaction_body(payload))["payload"][0]) == payload


async def test_bolt_app_end_to_end(fake: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[])
    app = AsyncApp(client=client, signing_secret="s3cret")

    @app.event("app_mention")
    async def mention(event: dict[str, str], say: AsyncSay) -> None:
        await say(text=f"echo: {event['text']}", thread_ts=event["ts"])

    @app.command("/ask")
    async def ask(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond("on it")

    event = {"type": "app_mention", "user": "U0001", "text": "hi", "ts": THREAD, "channel": CHANNEL}
    body, _ = event_body(event)
    res = await app.async_dispatch(
        AsyncBoltRequest(body=body, headers=signed_headers(body, "s3cret"))
    )
    assert res.status == 200
    await fake.wait_for(lambda: len(fake.thread(CHANNEL, THREAD)) == 1)
    assert fake.thread(CHANNEL, THREAD)[0].visible == "echo: hi"

    form = slash_command_body("/ask", "q", response_url=fake.response_url("c1"))
    res = await app.async_dispatch(
        AsyncBoltRequest(body=form, headers=signed_headers(form, "s3cret"))
    )
    assert res.status == 200
    await fake.wait_for(lambda: "c1" in fake.responses)
    assert fake.responses["c1"][0]["text"] == "on it"

    forged = await app.async_dispatch(
        AsyncBoltRequest(body=body, headers=signed_headers(body, "x"))
    )
    assert forged.status == 401


async def test_chat_update_with_text_alone_drops_the_old_blocks(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    button = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "Go"}}
    posted = await client.chat_postMessage(
        channel=CHANNEL, text="pick", blocks=[{"type": "actions", "elements": [button]}]
    )
    await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="done")
    message = fake.messages[(CHANNEL, posted["ts"])]
    assert message.blocks == [] and message.visible == "done"


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "no_such_block"}],
        [{"type": "section"}],  # neither text nor fields
        [{"type": "context_actions", "elements": []}],
        [{"type": "alert", "level": "loud", "text": {"type": "plain_text", "text": "x"}}],
        [{"type": "divider"}] * 51,
    ],
    ids=["unknown-type", "missing-text", "empty-elements", "bad-level", "too-many"],
)
async def test_block_kit_that_slack_sdk_models_reject_is_refused(
    fake: FakeSlack, client: AsyncWebClient, blocks: list[dict[str, object]]
) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=CHANNEL, text="x", blocks=blocks)
    assert raised.value.response["error"] == "invalid_blocks"
    assert not fake.messages


async def test_markdown_text_cannot_travel_with_blocks_or_text(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    for extra in ({"text": "t"}, {"blocks": [{"type": "divider"}]}):
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel=CHANNEL, markdown_text="**m**", **extra)
        assert raised.value.response["error"] == "markdown_text_conflict"


async def test_conversations_replies_pages_with_limit_and_cursors_within_latest(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    tss = [f"1690000000.{n:06d}" for n in range(1, 8)]
    fake.replies[(CHANNEL, tss[0])] = [
        {"type": "message", "user": "U0001", "text": str(n), "ts": ts} for n, ts in enumerate(tss)
    ]
    fake.replies_max_limit = 3
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.conversations_replies(
            channel=CHANNEL, ts=tss[0], limit=100, latest=tss[5], inclusive=False, cursor=cursor
        )
        assert len(page["messages"]) <= 3
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            assert cursor == ""
            break
    assert seen == ["0", "1", "2", "3", "4"]
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_replies(channel=CHANNEL, ts=tss[0], cursor="%%%")
    assert raised.value.response["error"] == "invalid_cursor"
