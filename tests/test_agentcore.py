"""AgentCore backend: pure request/answer handling, then real boto3 against FakeAgentCoreRuntime."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import example, given
from hypothesis import strategies as st

from bot import events as ev
from bot.agents import build_backend
from bot.agents.agentcore import AgentCoreBackend, AnswerParser, failure_from_error
from bot.agents.agentcore import runtime_session_id as rsid
from bot.agents.base import RetryPolicy
from bot.events import AgentEvent, AgentFailure, FailureKind, TextDelta, Usage
from bot.settings import load_settings
from tests.fakes.agentcore import Drop, HttpError, Pause, RaiseInStream, Script, Text, Trace
from tests.fakes.agentcore import FakeAgentCoreRuntime as Fake
from tests.servers import collect, server_and_client

ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/handbook_agent-Ab12Cd34Ef"
ATTRIBUTES = {"slackTeamId": "T1", "slackChannelId": "C1", "slackUserId": "U1", "orderId": "OR-1"}
SESSION = "T1:C1:1700000000.000100:g2"
SESSION_IDS = st.from_regex(r"[0-9a-zA-Z._:-]{2,100}", fullmatch=True)
HISTORY = (ev.HistoryMessage("user", "hi"), ev.HistoryMessage("assistant", "hello"))
SSE = "text/event-stream; charset=utf-8"
THROTTLED, UNKNOWN = FailureKind.THROTTLED, FailureKind.UNKNOWN


def request(text: str = "hello", **overrides: Any) -> ev.AgentRequest:
    fields = {"session_id": SESSION, "session_attributes": ATTRIBUTES, "user_id": "U1"}
    return ev.AgentRequest(**{"text": text, **fields, **overrides})


def backend(client: Any, idle_timeout: float = 5.0) -> AgentCoreBackend:
    return AgentCoreBackend(
        client=client,
        runtime_arn=ARN,
        qualifier="DEFAULT",
        executor=ThreadPoolExecutor(1),  # one worker: a thread left blocked would stall the next
        idle_timeout=idle_timeout,
        retry=RetryPolicy(attempts=3, base_delay=0),
    )


def parse(content_type: str, *chunks: bytes) -> list[AgentEvent]:
    parser = AnswerParser(content_type)
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + ([] if parser.done else parser.close())


@given(SESSION_IDS)
def test_runtime_session_id_is_valid_and_stable(session_id: str) -> None:
    derived = rsid(session_id)
    assert 33 <= len(derived) <= 100  # the API wants 33–256; its response model ≤ 100
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]*", derived)
    assert rsid(session_id) == derived


@given(SESSION_IDS, SESSION_IDS)
@example("T1:C1:17.5:g1", "T1:C1:17:5:g1")  # ":" and "." both become "_" in the readable part
@example("x" * 99 + "1", "x" * 99 + "2")  # and it is cut before the last character
def test_runtime_session_id_keeps_sessions_apart(a: str, b: str) -> None:
    assert (rsid(a) == rsid(b)) == (a == b)


def test_request_parameters_and_payload() -> None:
    params = backend(None).build_params(request("what's new?", history=HISTORY))

    assert json.loads(params.pop("payload")) == {
        "prompt": "what's new?",
        "session_id": rsid(SESSION),
        "slack": ATTRIBUTES,
        "history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    }
    assert params == {
        "agentRuntimeArn": ARN,
        "qualifier": "DEFAULT",
        "runtimeSessionId": rsid(SESSION),
        "runtimeUserId": "slack:T1:U1",  # team-qualified: user ids repeat across workspaces
        "contentType": "application/json",
        "accept": "text/event-stream, application/json",
    }
    bare = backend(None).build_params(request(user_id=""))
    assert "runtimeUserId" not in bare and "history" not in json.loads(bare["payload"])


STRANDS = [
    'data: {"event": {"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}}}\n\n',
    'data: {"data": "Hi", "delta": {"text": "Hi"}, "event_loop_cycle_id": "c1"}\n\n',
]
CITED = {"text": "P", "citations": [{"title": "F", "url": "https://x/f"}, {"url": "s3://b"}, {}]}
ERROR_EVENT = 'event: error\ndata: {"error": "throttlingException", "message": "slow"}\n\n'
SDK_ERROR = {"error": "boom", "error_type": "ValueError", "message": "failed"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('data: "Hel"\n\ndata: "lo"\n\n', [TextDelta("Hel"), TextDelta("lo")]),
        ("data: Hello there\n\n", [TextDelta("Hello there")]),  # bare text, as newer SDKs send strings
        ('data: {"text": "a"}\n\ndata: {"chunk": {"text": "b"}}\n\n', [TextDelta("a")]),  # first kind only
        ('data: {"content": "a"}\n\ndata: {"content": "b"}\n\n', [TextDelta("a"), TextDelta("b")]),
        ('data: {"delta": {"text": "d"}}\n\ndata: {"data": "e"}\n\n', [TextDelta("d")]),
        ("".join(STRANDS), [TextDelta("Hi")]),  # Strands forwarded whole: each text comes twice
        ("".join(reversed(STRANDS)), [TextDelta("Hi")]),
        ('data: {"event": {"messageStart": {"role": "assistant"}}}\n\ndata: null\n\n', []),
        ('data: {"text":\ndata:  "two lines"}\n\n', [TextDelta("two lines")]),
        ("data:a\ndata:  b\n\n", [TextDelta("a\n b")]),  # one space after the colon is not data
        ('data: "a"\r\n\r\n: a comment\rid: 7\rdata: "b"\r\r', [TextDelta("a"), TextDelta("b")]),
        ('data: "no blank line at the end"', [TextDelta("no blank line at the end")]),
        ('data: "a"\n\ndata: [DONE]\n\ndata: "after"\n\n', [TextDelta("a")]),
        ('data: 42\n\nevent: ping\ndata: {"t": 1}\n\n', [TextDelta("42")]),
        ('data: {"usage": {"inputTokens": 321, "outputTokens": 45}}\n\n', [Usage(321, 45)]),
        ('data: {"event": {"metadata": {"usage": {"inputTokens": 1}}}}\n\n', [Usage(1, 0)]),
        (f"data: {json.dumps(CITED)}\n\n", [TextDelta("P"), ev.Citations((ev.Source("F", "https://x/f"), ev.Source("s3://b", "s3://b")))]),
        (f'data: "a"\n\n{ERROR_EVENT}data: "b"\n\n', [TextDelta("a"), AgentFailure(THROTTLED, "throttlingException", "slow")]),
        (f"data: {json.dumps(SDK_ERROR)}\n\n", [AgentFailure(UNKNOWN, "ValueError", "failed")]),
        ("event: error\ndata: it fell over\n\n", [AgentFailure(UNKNOWN, "AgentError", "it fell over")]),
    ],
)  # fmt: skip
def test_event_stream(body: str, expected: list[AgentEvent]) -> None:
    assert parse(SSE, body.encode()) == expected


@given(
    st.lists(st.text(max_size=12), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_yields_the_same_text(texts: list[str], cuts: list[int], eol: str) -> None:
    lines = (f"data: {json.dumps({'text': t}, ensure_ascii=False)}{eol * 2}" for t in texts)
    raw = "".join(lines).encode()
    bounds = sorted({0, len(raw), *(c for c in cuts if c < len(raw))})
    events = parse(SSE, *(raw[a:b] for a, b in itertools.pairwise(bounds)))
    assert events == parse(SSE, raw)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(texts)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"result": "Grüße 👋🏽"}, [TextDelta("Grüße 👋🏽")]),
        ({"response": "r"}, [TextDelta("r")]),
        ({"output": "o"}, [TextDelta("o")]),
        ({"text": "t", "usage": {"inputTokens": 5, "outputTokens": 6}}, [TextDelta("t"), Usage(5, 6)]),
        ("just a string", [TextDelta("just a string")]),
        ({"result": {"role": "assistant", "content": [{"text": "a"}, {"text": "b"}]}}, [TextDelta("ab")]),
        ({"error": "ThrottlingException", "message": "m"}, [AgentFailure(THROTTLED, "ThrottlingException", "m")]),
        ({"result": ""}, []),
    ],
)  # fmt: skip
def test_json_answers(document: Any, expected: list[AgentEvent]) -> None:
    raw = json.dumps(document, ensure_ascii=False).encode()
    cut = raw.index(b"\xc3") + 1 if b"\xc3" in raw else 1  # split inside a character
    assert parse("application/json", raw[:cut], raw[cut:]) == expected


def test_other_content_types_are_plain_text() -> None:
    assert parse("text/plain", b"not {json", b" at all") == [TextDelta("not {json at all")]


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("RetryableConflictException", 409, FailureKind.CONFLICT),  # mapped here, not in errors
        ("ThrottlingException", 429, THROTTLED),
        ("ServiceQuotaExceededException", 402, THROTTLED),
        ("RuntimeClientError", 424, FailureKind.UNAVAILABLE),
        ("AccessDeniedException", 403, FailureKind.MISCONFIGURED),
        ("ResourceNotFoundException", 404, FailureKind.MISCONFIGURED),
    ],
)
def test_error_mapping(code: str, status: int, kind: FailureKind) -> None:
    error: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {}}
    error["ResponseMetadata"]["HTTPStatusCode"] = status
    failure = failure_from_error(ClientError(error, "InvokeAgentRuntime"))
    assert failure == AgentFailure(kind, code, "m")


fake, client = server_and_client(Fake, "bedrock-agentcore")


async def test_text_streams_in_order_as_written(fake: Fake, client: Any) -> None:
    release = asyncio.Event()
    steps = [Trace((321, 45)), Text("Grüße "), Pause(5, until=release), Text("aus "), Text("Köln")]
    fake.enqueue(Script(steps))
    agent, seen = backend(client), []
    async for event in agent.stream(request("hi", history=HISTORY)):
        seen.append((event, time.monotonic()))
        if event == TextDelta("Grüße "):
            release.set()  # only now is the rest written: the first text was not held back
    await agent.aclose()

    # Deltas that arrive together may be merged; the text and its order are what count.
    events = [event for event, _ in seen]
    assert events[:2] == [Usage(321, 45), TextDelta("Grüße ")]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Grüße aus Köln"
    (inv,) = fake.invocations
    arrivals = [at for event, at in seen if isinstance(event, TextDelta)]
    assert arrivals[0] >= inv.chunk_times[0]
    assert arrivals[0] < inv.chunk_times[1]  # the first text was handed over before the rest
    assert (inv.runtime_arn, inv.qualifier, inv.user_id) == (ARN, "DEFAULT", "slack:T1:U1")
    assert inv.session_id == rsid(SESSION)
    sent = backend(None).build_params(request("hi", history=HISTORY))
    assert inv.payload == json.loads(sent["payload"])
    assert inv.headers["content-type"] == "application/json"
    assert inv.headers["accept"] == "text/event-stream, application/json"


async def test_json_body_answer(fake: Fake, client: Any) -> None:
    fake.json_body = True
    fake.enqueue(Script.answer("One whole answer, é and all.", chunk_size=4, usage=(7, 8)))
    expected = [TextDelta("One whole answer, é and all."), Usage(7, 8)]
    assert await collect(backend(client), request()) == expected


async def test_error_in_stream_keeps_the_text_and_is_not_retried(fake: Fake, client: Any) -> None:
    fake.enqueue(Script([Text("partial "), RaiseInStream("throttlingException", "Rate exceeded")]))
    failure = AgentFailure(THROTTLED, "throttlingException", "Rate exceeded")
    assert await collect(backend(client), request()) == [TextDelta("partial "), failure]
    assert len(fake.invocations) == 1


@pytest.mark.parametrize(
    ("status", "code", "kind", "calls"),
    [
        (429, "ThrottlingException", THROTTLED, 3),
        (409, "RetryableConflictException", FailureKind.CONFLICT, 3),
        (403, "AccessDeniedException", FailureKind.MISCONFIGURED, 1),
    ],
)
async def test_http_errors(
    fake: Fake, client: Any, status: int, code: str, kind: FailureKind, calls: int
) -> None:
    fake.responder = lambda inv: Script([HttpError(status, code, "nope")])
    assert await collect(backend(client), request()) == [AgentFailure(kind, code, "nope")]
    assert len(fake.invocations) == calls  # retried before any text unless it cannot help


@pytest.mark.parametrize("json_body", [False, True])
async def test_drop_mid_answer_is_interrupted_and_keeps_the_text(
    fake: Fake, client: Any, json_body: bool
) -> None:
    fake.json_body = json_body
    fake.enqueue(Script([Text("half an ans"), Drop()]))
    *text, failure = await collect(backend(client), request())
    assert text == ([] if json_body else [TextDelta("half an ans")])
    assert isinstance(failure, AgentFailure) and failure.kind is FailureKind.INTERRUPTED


async def test_idle_timeout_frees_the_worker(fake: Fake, client: Any) -> None:
    release = asyncio.Event()
    fake.enqueue(Script([Text("partial"), Pause(5, until=release)]))
    agent = backend(client, idle_timeout=0.3)
    events = [event async for event in agent.stream(request())]
    assert events == [TextDelta("partial"), AgentFailure(FailureKind.TIMEOUT, "idle_timeout")]
    # Its one worker thread answers again: the blocked read was woken, not left hanging.
    assert await collect(agent, request()) == [TextDelta("You said: hello")]
    release.set()
    await fake.invocations[0].wait_finished()


async def test_built_from_settings(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", fake.url)
    slack = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}
    settings = load_settings(**slack, agent_backend="agentcore", agentcore_runtime_arn=ARN)
    assert await collect(build_backend(settings), request("ping")) == [TextDelta("You said: ping")]
    assert fake.invocations[0].runtime_arn == ARN


def test_history_replay_input_preamble_is_honoured_not_ignored() -> None:
    agent = AgentCoreBackend(
        client=None,
        runtime_arn=ARN,
        qualifier="DEFAULT",
        executor=ThreadPoolExecutor(max_workers=1),
        idle_timeout=5.0,
        retry=RetryPolicy(attempts=1),
        replay_as_preamble=True,
    )
    payload = json.loads(agent.build_params(request("what's new?", history=HISTORY))["payload"])
    assert "history" not in payload
    assert payload["prompt"].startswith("Earlier in this conversation:\nUser: hi\nAssistant: hello")
    assert payload["prompt"].endswith("what's new?")
    fresh = json.loads(agent.build_params(request("first"))["payload"])
    assert fresh["prompt"] == "first"  # no history, no preamble
