"""The HTTP front door under hostile input: clean 4xx (or an ignoring 200), never a 5xx, and
slow clients cut off — each over real HTTP against the running bot, which then still answers."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import pytest

from bot.http_guard import SLOW_AFTER_SECONDS, Admitted, Rejected, screen
from tests.conftest import StartBot
from tests.fakes.signing import event_envelope, signed_headers
from tests.fakes.slack import FakeSlack
from tests.harness import SIGNING_SECRET, Bot, FakeAgent, mention, wait_finished

pytestmark = pytest.mark.bedrock_only("the front door is the same for every agent backend")


async def post_raw(bot: Bot, body: bytes, headers: dict[str, str]) -> int:
    async with bot.http.post(f"{bot.url}/slack/events", data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


def signed(body: bytes, *, content_type: str = "application/json") -> dict[str, str]:
    return {"Content-Type": content_type, **signed_headers(body, SIGNING_SECRET)}


async def answers_next_question(bot: Bot, slack: FakeSlack) -> None:
    """The process is alive and answers: a fresh mention gets its answer."""
    before = len(slack.calls_to("reactions.remove"))
    event = mention("still there?")
    response = await bot.send_event(event)
    assert response.status == 200
    await wait_finished(slack, before + 1)
    assert slack.thread("C0CHAN", event["ts"])[0].visible.startswith("You said: still there?")


@pytest.mark.parametrize(
    "timestamp", ["abc", "", "1e9", "1712345678.5", "-5", " ", "٣٣٣", "9" * 40, None]
)
async def test_a_timestamp_that_is_not_an_integer_gets_401_without_a_signature(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, timestamp: str | None
) -> None:
    body = json.dumps(event_envelope(mention("hi"))).encode()
    headers = {"Content-Type": "application/json", "X-Slack-Signature": "v0=00"}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp

    assert await post_raw(bot, body, headers) == 401

    await answers_next_question(bot, slack)
    assert len(bedrock.invocations) == 1, "only the follow-up question reached the agent"


@pytest.mark.parametrize("skew", [-301, 3_600, -(10**9)])
async def test_a_correctly_signed_request_older_or_newer_than_five_minutes_gets_401(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, skew: int
) -> None:
    body = json.dumps(event_envelope(mention("replayed"))).encode()
    headers = {
        "Content-Type": "application/json",
        **signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) + skew),
    }

    assert await post_raw(bot, body, headers) == 401

    await answers_next_question(bot, slack)
    assert len(bedrock.invocations) == 1


async def test_a_signed_body_that_is_not_utf8_gets_400(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    body = b'{"type": "event_callback", "event": {"type": "app_mention", "text": "\xff\xfe"}}'

    assert await post_raw(bot, body, signed(body)) == 400
    assert await post_raw(bot, b"command=%2Forder&text=\xff", signed(b"x")) == 401
    form = b"command=/order&text=\xc3\x28"
    assert await post_raw(bot, form, signed(form, content_type=FORM)) == 400

    await answers_next_question(bot, slack)


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("event", ["a string", ["a", "list"], None, 42, 1.5, True])
async def test_a_signed_event_callback_whose_event_is_not_an_object_is_ignored_with_200(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, event: object
) -> None:
    envelope = event_envelope({}) | {"event": event}
    body = json.dumps(envelope).encode()

    assert await post_raw(bot, body, signed(body)) == 200

    await answers_next_question(bot, slack)
    assert len(bedrock.invocations) == 1


HOSTILE_JSON: list[object] = [
    [],
    "text",
    17,
    None,
    {},
    {"type": "event_callback"},
    {"type": "event_callback", "event": {}},
    {"type": "event_callback", "event": {"type": 5}},
    {"type": "event_callback", "event": {"type": "app_mention", "user": [], "text": {}, "ts": 1}},
    {"type": "event_callback", "event": {"type": "message", "channel": None, "user": "U1"}},
    {"type": "event_callback", "team_id": ["T"], "event": {"type": "app_mention"}},
    {"type": "event_callback", "authorizations": "nope", "event": {"type": "app_mention"}},
    {"type": "url_verification"},
    {"type": "url_verification", "challenge": {"x": 1}},
    {"type": "block_actions", "actions": "nope"},
    {"type": ["event_callback"]},
]
HOSTILE_FORMS: list[dict[str, str]] = [
    {"payload": "not json"},
    {"payload": "5"},
    {"payload": '{"type": "block_actions", "actions": [null], "user": "x"}'},
    {"payload": '{"type": "view_submission", "view": 3}'},
    {"command": "/order"},
    {"command": "/order", "text": "ORD-1", "response_url": "not a url"},
    {"command": "", "user_id": ""},
]


async def test_hostile_signed_bodies_never_get_a_5xx_and_the_bot_keeps_answering(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    statuses = {}
    for document in HOSTILE_JSON:
        body = json.dumps(document).encode()
        statuses[body.decode()] = await post_raw(bot, body, signed(body))
    for form in HOSTILE_FORMS:
        body = urlencode(form).encode()
        statuses[body.decode()] = await post_raw(bot, body, signed(body, content_type=FORM))
    for raw in (b"{not json", b"", b"\x00" * 10):
        statuses[repr(raw)] = await post_raw(bot, raw, signed(raw))

    assert {body: s for body, s in statuses.items() if s >= 500} == {}
    await answers_next_question(bot, slack)


async def connect(bot: Bot) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw TCP connection to the bot's HTTP port."""
    return await asyncio.open_connection("127.0.0.1", bot.runtime.port)


@pytest.fixture
async def impatient_bot(start: StartBot) -> Bot:
    """A bot that waits one second for a request to arrive whole."""
    return await start(HTTP_READ_TIMEOUT_SECONDS="1")


async def test_a_body_that_trickles_in_is_cut_off_and_the_bot_keeps_answering(
    impatient_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    reader, writer = await connect(impatient_bot)
    body = json.dumps(event_envelope(mention("slowly"))).encode()
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body[:10])
    await writer.drain()

    # The client never sends the rest: the server answers 408 and closes, well before this.
    reply = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()

    assert reply.startswith(b"HTTP/1.1 408")
    await answers_next_question(impatient_bot, slack)


async def test_headers_that_trickle_in_are_cut_off(
    impatient_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    reader, writer = await connect(impatient_bot)
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
    await writer.drain()

    async def trickle() -> None:
        for _ in range(100):  # one header byte now and then, never the blank line
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.2)

    trickling = asyncio.create_task(trickle())
    try:
        reply = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        trickling.cancel()
        writer.close()

    assert reply == b"", "closed without an answer"
    await answers_next_question(impatient_bot, slack)


async def test_only_a_bounded_number_of_slow_connections_stay_open(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(HTTP_MAX_SLOW_CONNECTIONS="5", HTTP_READ_TIMEOUT_SECONDS="60")
    connections = []
    for _ in range(12):
        reader, writer = await connect(bot)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
        await writer.drain()
        connections.append((reader, writer))
    # A connection counts as slow once it is a second old without a complete request: that is
    # what this waits for (the time itself is the behaviour, not a synchronisation).
    await asyncio.sleep(SLOW_AFTER_SECONDS + 0.2)

    # A real request still gets through (its own connection counts while it is sent) …
    await answers_next_question(bot, slack)
    # … and all but the newest few slow ones were closed to make room.
    closed = 0
    for reader, _ in connections[:7]:
        closed += await asyncio.wait_for(reader.read(), timeout=10) == b""
    for _, writer in connections:
        writer.close()
    assert closed == 7


def test_screening_is_total_for_any_header_and_body() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    @given(
        timestamp=st.one_of(st.text(max_size=20), st.integers().map(str)),
        signature=st.text(max_size=80),
        body=st.binary(max_size=200),
        content_type=st.sampled_from(["application/json", FORM, "", "text/plain"]),
    )
    def check(timestamp: str, signature: str, body: bytes, content_type: str) -> None:
        headers = {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
            "Content-Type": content_type,
        }
        verdict = screen(headers, body, secret="s", now=time.time())
        assert isinstance(verdict, Admitted | Rejected)
        assert isinstance(verdict, Rejected) and verdict.status == 401

    check()
