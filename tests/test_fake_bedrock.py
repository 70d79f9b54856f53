"""Real boto3 against FakeBedrockAgentRuntime: the fake must speak the actual wire format."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from contextlib import closing
from itertools import pairwise
from typing import Any

import aiohttp
import pytest
import urllib3.exceptions
from botocore.client import BaseClient
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import BotoCoreError, ClientError, EventStreamError

from tests.fakes.bedrock import Drop, HttpError, Pause, RaiseInStream, Script, Text, Trace
from tests.fakes.bedrock import FakeBedrockAgentRuntime as Fake
from tests.fakes.eventstream import encode_event, encode_exception
from tests.servers import make_client, server_and_client

SESSION_ID = "C123:1700000000.000100"  # Slack-style ids need the ":" percent-encoded
PARAMS = {"agentId": "AGENT1", "agentAliasId": "ALIAS1", "sessionId": SESSION_ID}


fake, client = server_and_client(Fake, "bedrock-agent-runtime")


def invoke(
    client: BaseClient, sink: list[dict[str, Any]] | None = None, **overrides: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Blocking: call InvokeAgent and read events into ``sink`` (kept if iteration fails)."""
    response = client.invoke_agent(**PARAMS | {"inputText": "hello"} | overrides)
    events = [] if sink is None else sink
    try:
        events.extend(response["completion"])
    finally:
        response["completion"].close()  # a broken stream otherwise leaks its socket
    return response, events


def text_of(events: list[dict[str, Any]]) -> str:
    return b"".join(e["chunk"]["bytes"] for e in events if "chunk" in e).decode()


def test_encoder_round_trips_through_botocore_buffer() -> None:
    frames = encode_event("chunk", {"bytes": "aGk=", "note": "é✓"})
    frames += encode_exception("throttlingException", "Rate exceeded")
    buffer = EventStreamBuffer()
    messages = []
    for i in range(0, len(frames), 7):  # odd slices: frames must survive arbitrary splits
        buffer.add_data(frames[i : i + 7])
        messages.extend(buffer)

    event, exception = messages
    assert event.headers == {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(event.payload) == {"bytes": "aGk=", "note": "é✓"}
    assert exception.headers[":exception-type"] == "throttlingException"
    assert json.loads(exception.payload) == {"message": "Rate exceeded"}
    assert exception.to_response_dict()["status_code"] == 400

    corrupted = bytearray(frames)
    corrupted[20] ^= 0xFF
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(corrupted))
    with pytest.raises(ChecksumMismatch):
        list(buffer)


async def test_multi_chunk_stream_with_trace_usage(fake: Fake, client: BaseClient) -> None:
    answer = "Grüße aus Köln! 👋🏽 Here is a longer answer split into several chunks."
    fake.enqueue(Script.answer(answer, chunk_size=7, usage=(321, 45)))

    response, events = await asyncio.to_thread(
        invoke, client, enableTrace=True, streamingConfigurations={"streamFinalResponse": True}
    )

    assert (response["sessionId"], response["contentType"]) == (SESSION_ID, "application/json")
    trace = events[0]["trace"]
    assert (trace["agentId"], trace["agentAliasId"]) == ("AGENT1", "ALIAS1")
    output = trace["trace"]["orchestrationTrace"]["modelInvocationOutput"]
    assert output["metadata"]["usage"] == {"inputTokens": 321, "outputTokens": 45}
    chunks = [e["chunk"]["bytes"] for e in events[1:]]
    assert len(chunks) == len(fake.invocations[0].chunk_times) == -(-len(answer) // 7)
    assert all(isinstance(c, bytes) and c.decode() for c in chunks)  # each decodes alone
    assert text_of(events) == answer


async def test_chunks_arrive_when_written(fake: Fake, client: BaseClient) -> None:
    fake.enqueue(Script.answer("abcdef", chunk_size=2, first_delay=0.05, interval=0.03))

    def arrival_times() -> list[float]:
        response = client.invoke_agent(**PARAMS, inputText="x")
        return [time.monotonic() for e in response["completion"] if "chunk" in e]

    arrivals = await asyncio.to_thread(arrival_times)

    (inv,) = fake.invocations
    assert inv.chunk_times[0] - inv.started_at >= 0.05
    assert all(b - a >= 0.025 for a, b in pairwise(inv.chunk_times))
    assert arrivals[-1] - arrivals[0] >= 0.05  # streamed, not buffered until the end


async def test_citations_come_back_as_attribution(fake: Fake, client: BaseClient) -> None:
    reference = {
        "content": {"text": "Paris is the capital of France."},
        "location": {"type": "S3", "s3Location": {"uri": "s3://kb/france.md"}},
        "metadata": {"x-amz-bedrock-kb-chunk-id": "1"},
    }
    part = {"textResponsePart": {"text": "Paris", "span": {"start": 0, "end": 4}}}
    citation = {"generatedResponsePart": part, "retrievedReferences": [reference]}
    fake.enqueue(Script([Text("Paris", citations=[citation])]))

    _, events = await asyncio.to_thread(invoke, client)

    assert events == [{"chunk": {"bytes": b"Paris", "attribution": {"citations": [citation]}}}]


@pytest.mark.parametrize(
    ("exception_type", "message"),
    [("throttlingException", "Rate exceeded"), ("dependencyFailedException", "Lambda failed")],
)
async def test_in_stream_exception_raises_event_stream_error(
    fake: Fake, client: BaseClient, exception_type: str, message: str
) -> None:
    fake.enqueue(Script([Trace(), Text("partial "), RaiseInStream(exception_type, message)]))
    seen: list[dict[str, Any]] = []

    with pytest.raises(EventStreamError) as caught:
        await asyncio.to_thread(invoke, client, seen)

    assert caught.value.response["Error"] == {"Code": exception_type, "Message": message}
    assert text_of(seen) == "partial "


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (429, "ThrottlingException"),
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (409, "ConflictException"),
        (424, "DependencyFailedException"),
        (500, "InternalServerException"),
    ],
)
async def test_http_error_raises_modeled_client_error(
    fake: Fake, client: BaseClient, status: int, error_type: str
) -> None:
    fake.enqueue(Script([HttpError(status, error_type, "nope")]))

    with pytest.raises(ClientError) as caught:
        await asyncio.to_thread(invoke, client)

    assert caught.value.response["Error"] == {"Code": error_type, "Message": "nope"}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert isinstance(caught.value, getattr(client.exceptions, error_type))


async def test_drop_breaks_the_stream_mid_body(fake: Fake, client: BaseClient) -> None:
    fake.enqueue(Script([Text("half an ans"), Drop()]), Script.answer("recovered"))
    seen: list[dict[str, Any]] = []

    # The exact type is urllib3's business (ProtocolError today); only "it raises" matters.
    with pytest.raises((urllib3.exceptions.HTTPError, BotoCoreError, ConnectionError)):
        await asyncio.to_thread(invoke, client, seen)

    assert text_of(seen) == "half an ans"
    _, events = await asyncio.to_thread(invoke, client)  # the server survives it
    assert text_of(events) == "recovered"


async def test_client_hanging_up_early_is_recorded_not_fatal(
    fake: Fake, client: BaseClient
) -> None:
    resume = asyncio.Event()
    fake.enqueue(Script([Text("first"), Pause(5.0, until=resume), Text("b"), Text("c")]))

    def read_one_then_close() -> bytes:
        completion = client.invoke_agent(**PARAMS, inputText="x")["completion"]
        first: bytes = next(iter(completion))["chunk"]["bytes"]
        completion.close()
        return first

    assert await asyncio.to_thread(read_one_then_close) == b"first"
    resume.set()  # only now may the server write again, into the closed connection
    (inv,) = await fake.wait_for_invocations(1)
    await inv.wait_finished()
    assert inv.disconnected
    _, events = await asyncio.to_thread(invoke, client)
    assert text_of(events) == "You said: hello"


async def test_invocation_records_the_request(fake: Fake, client: BaseClient) -> None:
    history = [
        {"role": r, "content": [{"text": t}]} for r, t in [("user", "hi"), ("assistant", "yo")]
    ]
    state = {
        "sessionAttributes": {"slack_user": "U1"},
        "promptSessionAttributes": {"today": "Monday"},
        "conversationHistory": {"messages": history},
    }
    streaming = {"streamFinalResponse": True, "applyGuardrailInterval": 50}
    request = {"inputText": "what's new?", "enableTrace": True, "memoryId": "mem-1"}
    _, events = await asyncio.to_thread(
        invoke, client, **request, streamingConfigurations=streaming, sessionState=state
    )

    (inv,) = await fake.wait_for_invocations(1)
    assert (inv.agent_id, inv.alias_id, inv.session_id) == ("AGENT1", "ALIAS1", SESSION_ID)
    assert inv.input_text == "what's new?"
    assert inv.session_attributes == {"slack_user": "U1"}
    assert inv.conversation_history == history
    assert inv.body == {**request, "streamingConfigurations": streaming, "sessionState": state}
    assert inv.headers["authorization"].startswith("AWS4-HMAC-SHA256")
    assert inv.finished_at is not None and inv.finished_at >= inv.started_at
    assert text_of(events) == "You said: what's new?"


async def test_queue_is_fifo_then_falls_back_to_responder(fake: Fake, client: BaseClient) -> None:
    fake.enqueue(Script([Text("one")]), Script([Text("two")]))
    fake.responder = lambda inv: Script([Trace(None), Text(inv.input_text.upper())])

    texts = [text_of((await asyncio.to_thread(invoke, client))[1]) for _ in range(3)]

    assert texts == ["one", "two", "HELLO"]
    assert len(await fake.wait_for_invocations(3)) == 3
    with pytest.raises(TimeoutError, match="expected 4 invocations, got 3"):
        await fake.wait_for_invocations(4, timeout=0.01)


async def test_endpoint_from_environment(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", fake.url)

    with closing(make_client(None)) as env_client:
        _, events = await asyncio.to_thread(invoke, env_client)

    assert text_of(events) == "You said: hello"


def test_script_rejects_impossible_orders() -> None:
    with pytest.raises(ValueError, match="only step"):
        Script([Text("x"), HttpError(500, "InternalServerException", "boom")])
    with pytest.raises(ValueError, match="last step"):
        Script([Drop(), Text("x")])


async def test_hundreds_of_concurrent_streams(fake: Fake) -> None:
    fake.responder = lambda inv: Script.answer(f"answer for {inv.input_text}", chunk_size=5)

    async def one(session: aiohttp.ClientSession, i: int) -> str:
        url = f"{fake.url}/agents/A/agentAliases/B/sessions/s{i}/text"
        buffer, text = EventStreamBuffer(), b""
        async with session.post(url, json={"inputText": str(i)}) as response:
            async for data in response.content.iter_any():
                buffer.add_data(data)
                for message in buffer:
                    if message.headers[":event-type"] == "chunk":
                        text += base64.b64decode(json.loads(message.payload)["bytes"])
        return text.decode()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        results = await asyncio.gather(*(one(session, i) for i in range(300)))

    assert results == [f"answer for {i}" for i in range(300)]
    assert len(fake.invocations) == 300
