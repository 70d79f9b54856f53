"""What operators see: /metrics counters and histograms, /readyz, structured logs."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable

import pytest

from bot.logs import JsonFormatter, turn_id_var
from tests.conftest import StartBot
from tests.fakes.bedrock import FakeBedrockAgentRuntime, HttpError, Script, Trace
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, stored_turns, wait_finished


async def metrics_once(bot: Bot, ready: Callable[[str], bool]) -> str:
    """/metrics once `ready` holds: answers are counted just after their last Slack write."""
    for _ in range(250):  # polls another component's HTTP endpoint, for up to 5 s
        text = (await bot.get("/metrics"))[1]
        if ready(text):
            return text
        await asyncio.sleep(0.02)
    raise TimeoutError("metrics never got there")


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not exported"
    return float(match.group(1))


async def test_metrics_count_questions_answers_tokens_cost_and_latencies(
    start: StartBot, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    bot = await start(PRICE_INPUT_PER_1K="1", PRICE_OUTPUT_PER_1K="2", AGENT_RETRY_ATTEMPTS="1")
    # The agent's hidden orchestration steps cost more than the visible answer: all are summed.
    bedrock.enqueue(
        Script([Trace((1000, 50)), Trace((2000, 150)), *Script.answer("Fine.", usage=None).steps])
    )
    bedrock.enqueue(Script([HttpError(429, "ThrottlingException", "slow down")]))
    await bot.send_event(mention("first"))
    await bot.send_event(mention("second"))
    await wait_finished(slack, 2)
    text = await metrics_once(
        bot,
        lambda t: "slackbot_answer_seconds_count 2.0" in t and "slackbot_active_answers 0.0" in t,
    )

    assert metric(text, 'slackbot_questions_total{surface="mention"}') == 2
    assert metric(text, 'slackbot_answers_total{outcome="ok"}') == 1
    assert metric(text, 'slackbot_answers_total{outcome="throttled"}') == 1
    assert metric(text, 'slackbot_agent_tokens_total{direction="input"}') == 3000
    assert metric(text, 'slackbot_agent_tokens_total{direction="output"}') == 200
    assert metric(text, "slackbot_agent_cost_usd_total") == 3.4  # 3,000 × $1/1k + 200 × $2/1k
    assert metric(text, "slackbot_ack_seconds_count") >= 2
    assert metric(text, "slackbot_first_visible_text_seconds_count") == 1
    assert metric(text, "slackbot_answer_seconds_count") == 2
    assert metric(text, "slackbot_active_answers") == 0
    assert metric(text, "slackbot_event_loop_lag_seconds_count") >= 0


async def test_readyz_reports_each_check(bot: Bot) -> None:
    status, body = await bot.get("/readyz")
    assert status == 200
    assert json.loads(body) == {
        "ready": True,
        "checks": {"config": "ok", "slack": "ok", "redis": "ok"},
    }


def test_every_log_line_of_an_answer_carries_its_turn_id_and_no_token() -> None:
    token = turn_id_var.set("abc123")
    try:
        record = logging.makeLogRecord(
            {
                "msg": "calling with xoxb-123-456-secret",
                "levelname": "INFO",
                "name": "bot",
                "kind": "x",
            }
        )
        entry = json.loads(JsonFormatter().format(record))
    finally:
        turn_id_var.reset(token)
    assert entry["turn_id"] == "abc123" and entry["kind"] == "x"
    assert "secret" not in entry["msg"] and "xoxb-***" in entry["msg"]


@pytest.mark.bedrock_only("AgentCore agents report no foundation model in their stream")
async def test_cost_is_priced_by_the_model_the_agent_used(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    bot = await start(MODEL_PRICES='{"claude-3-5-sonnet": [3, 15]}', PRICE_INPUT_PER_1K="1")
    sonnet = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
    calls = [Trace((1000, 100), model=sonnet), Trace((1000, 0), model="amazon.nova-pro-v1:0")]
    bedrock.enqueue(Script([*calls, *Script.answer("Priced.", usage=None).steps]))
    event = mention("what does this cost?")
    await bot.send_event(event)
    await wait_finished(slack)

    text = await metrics_once(bot, lambda t: "slackbot_answer_seconds_count 1.0" in t)

    assert metric(text, "slackbot_agent_cost_usd_total") == 3 + 1.5 + 1  # sonnet, then default
    [turn] = await stored_turns(redis_prefix, event["ts"])
    assert json.loads(turn)["cost_usd"] == 5.5
