"""Odd frames from the agent — citations that are null or strings, usage that is "many", a
trace that is not an object — never cost the answer: the user sees all of its text, no error,
and the next question is answered."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.bedrock import Frame, Script, Text
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, for_each_backend, mention, wait_finished


def chunk(text: str, **extra: Any) -> Frame:
    return Frame({"bytes": base64.b64encode(text.encode()).decode(), **extra}, event="chunk")


def trace(inner: Any) -> Frame:
    return Frame({"agentId": "AGENT12345", "sessionId": "s", "trace": inner}, event="trace")


def usage_trace(usage: Any) -> Frame:
    return trace({"orchestrationTrace": {"modelInvocationOutput": {"metadata": {"usage": usage}}}})


BEDROCK_ODDITIES = [
    ("null-string-number-citations", chunk("odd ", attribution={"citations": [None, "x", 5]})),
    (
        "references-not-a-list",
        chunk("odd ", attribution={"citations": [{"retrievedReferences": "no"}]}),
    ),
    ("attribution-a-string", chunk("odd ", attribution="everywhere")),
    ("usage-many", usage_trace({"inputTokens": "many", "outputTokens": None})),
    ("usage-negative", usage_trace({"inputTokens": -40, "outputTokens": -2})),
    ("usage-null", usage_trace(None)),
    ("trace-a-string", trace("not an object")),
    ("trace-a-list", trace([1, {"x": None}])),
    ("payload-a-list", Frame([1, 2, 3], event="trace")),
    ("unknown-event", Frame({"what": "ever"}, event="mysteryEvent")),
]
AGENTCORE_ODDITIES = [
    ("null-string-number-citations", Frame({"text": "odd ", "citations": [None, "x", 5]})),
    ("citations-an-object", Frame({"text": "odd ", "citations": {"title": 3}})),
    ("usage-many", Frame({"usage": "many"})),
    ("usage-negative", Frame({"usage": {"inputTokens": -40, "outputTokens": -2}})),
    ("trace-a-string", Frame({"trace": "not an object"})),
    ("null-frame", Frame(None)),
    ("bool-frame", Frame(True)),
    ("nested-junk", Frame({"event": {"contentBlockDelta": "x"}, "delta": [None]})),
]


def carried(frame: Frame) -> str:
    payload = frame.payload
    if frame.event == "chunk" and isinstance(payload, dict) and "bytes" in payload:
        return base64.b64decode(payload["bytes"]).decode()
    return payload.get("text", "") if isinstance(payload, dict) else ""


@for_each_backend(
    "name, frame",
    {
        "bedrock-agents": BEDROCK_ODDITIES,
        "agentcore": AGENTCORE_ODDITIES,
    },
)
async def test_an_odd_frame_costs_nothing_but_itself(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, name: str, frame: Frame
) -> None:
    bedrock.enqueue(Script([Text("Part one. "), frame, Text("Part two.")]))
    event = mention("odd frames")

    await bot.send_event(event)

    await wait_finished(slack)
    [message] = slack.thread("C0CHAN", event["ts"])
    assert message.visible.startswith(f"Part one. {carried(frame)}Part two."), name
    assert "interrupted" not in message.visible.lower()
    assert "went wrong" not in message.visible.lower()
    follow_up = mention("next", thread_ts=event["ts"])
    await bot.send_event(follow_up)
    await wait_finished(slack, 2)
    assert any("You said: next" in m.visible for m in slack.thread("C0CHAN", event["ts"]))
