"""`python -m bot usage`: tokens and estimated cost per day and channel, from stored turns."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest

from bot import usage as usage_module
from bot.events import Prices
from bot.history import StoredTurn
from bot.keys import Keys, conversation_key, order_conversation_key
from bot.memory import Memory
from bot.memory import admin as memory_admin
from bot.settings import load_settings
from bot.usage import (
    Grouping,
    KeyedTurn,
    UsageRow,
    aggregate,
    channel_of,
    load_turns,
    render_table,
    usage,
)
from tests.harness import RedisTarget, patched_env

TODAY = date(2026, 8, 3)
PRICES = Prices(input_per_1k=0.003, output_per_1k=0.015)
BASE_SETTINGS = {
    "slack_bot_token": "xoxb-1",
    "slack_signing_secret": "s",
    "bedrock_agent_id": "A",
    "bedrock_agent_alias_id": "B",
    "_env_file": None,
}


def at(day: date, hour: int = 12) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp()


def turn(day: date, tokens_in: int, tokens_out: int) -> StoredTurn:
    stamp = at(day)
    return StoredTurn("q", "a", input_tokens=tokens_in, output_tokens=tokens_out, answered_at=stamp)


AUG_2, AUG_3 = date(2026, 8, 2), TODAY
TURNS = [
    KeyedTurn("T1:C0SALES:1754000000.000100", turn(AUG_2, 1000, 200)),
    KeyedTurn("T1:C0SALES:1754000000.000100", turn(AUG_3, 2000, 100)),
    KeyedTurn("T1:D0DM", turn(AUG_3, 500, 500)),
    KeyedTurn("T1:order:U0ALICE", turn(AUG_3, 100, 0)),
    KeyedTurn("T1:C0SALES:1754000000.000100", StoredTurn("thread context", "")),  # seeded, no time
]


def test_by_day_sums_tokens_and_cost_newest_day_first() -> None:
    rows = aggregate(TURNS, by=Grouping.DAY, prices=PRICES)

    assert rows == [
        UsageRow("2026-08-03", "", 3, 2600, 600, pytest.approx(2.6 * 0.003 + 0.6 * 0.015)),
        UsageRow("2026-08-02", "", 1, 1000, 200, pytest.approx(0.003 + 0.2 * 0.015)),
    ]


def test_by_channel_splits_each_day_costliest_channel_first() -> None:
    rows = aggregate(TURNS, by=Grouping.CHANNEL, prices=PRICES, order_label="/order")

    assert [(row.day, row.channel, row.turns) for row in rows] == [
        ("2026-08-03", "D0DM", 1),  # 500 in + 500 out costs more than 2000 in + 100 out
        ("2026-08-03", "C0SALES", 1),
        ("2026-08-03", "/order", 1),
        ("2026-08-02", "C0SALES", 1),
    ]


def test_days_before_since_are_left_out() -> None:
    rows = aggregate(TURNS, by=Grouping.DAY, prices=PRICES, since=TODAY)

    assert [row.day for row in rows] == ["2026-08-03"]


def test_conversation_keys_map_to_their_channel() -> None:
    assert channel_of(conversation_key("T1", "C0A", "1.2")) == "C0A"
    assert channel_of(conversation_key("T1", "D0B")) == "D0B"
    assert channel_of(order_conversation_key("T1", "U1"), order_label="/lookup") == "/lookup"
    assert channel_of("garbage") == "?"


def test_the_table_is_aligned_with_a_total_line() -> None:
    rows = aggregate(TURNS, by=Grouping.CHANNEL, prices=PRICES)

    lines = render_table(rows, by=Grouping.CHANNEL).splitlines()

    assert lines == [
        "day         channel  turns  input tokens  output tokens  cost USD",
        "2026-08-03  D0DM         1           500            500    0.0090",
        "2026-08-03  C0SALES      1         2,000            100    0.0075",
        "2026-08-03  /order       1           100              0    0.0003",
        "2026-08-02  C0SALES      1         1,000            200    0.0060",
        "total                    4         3,600            800    0.0228",
    ]
    assert len({len(line) for line in lines}) == 1  # numbers right-aligned to one edge


def test_prices_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRICE_INPUT_PER_1K", "0.001")
    monkeypatch.setenv("PRICE_OUTPUT_PER_1K", "0.002")

    assert load_settings(**BASE_SETTINGS).prices.cost(2000, 1000) == pytest.approx(0.004)
    assert Prices().cost(1000, 1000) == pytest.approx(0.018)  # defaults: 0.003 in, 0.015 out


@pytest.mark.both_redis
async def test_usage_reads_every_conversation_from_redis(
    redis_prefix: str, redis_target: RedisTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_admin, "SCAN_BATCH", 2)  # several SCAN/pipeline rounds
    redis = redis_target.client()
    memory = Memory(redis, prefix=redis_prefix, idle_seconds=60, max_turns=20, ttl_seconds=600)
    for n in range(5):
        key = conversation_key("T1", "C0SALES", f"1754000000.00010{n}")
        await memory.record_turn(key, turn(AUG_3, 100, 20), generation=1)
    await memory.record_turn("T1:D0DM", turn(AUG_2, 1000, 100), generation=1)
    await redis.rpush(Keys(redis_prefix).turns("T1:D0DM"), b"{not json")  # damaged: skipped

    loaded = await load_turns(memory)
    await redis.aclose()

    assert sorted(keyed.conversation for keyed in loaded) == [
        *(f"T1:C0SALES:1754000000.00010{n}" for n in range(5)),
        "T1:D0DM",
    ]
    assert all(keyed.turn.question == keyed.turn.answer == "" for keyed in loaded)
    out = io.StringIO()
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "BEDROCK_AGENT_ID": "AGENT12345",
        "BEDROCK_AGENT_ALIAS_ID": "ALIAS12345",
        **redis_target.env,
        "REDIS_KEY_PREFIX": redis_prefix,
    }
    with patched_env(env):
        code = await usage(["--by", "channel", "--days", "7"], out=out, today=TODAY)

    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[1].split() == ["2026-08-03", "C0SALES", "5", "500", "100", "0.0030"]
    assert lines[2].split() == ["2026-08-02", "D0DM", "1", "1,000", "100", "0.0045"]
    assert lines[3].split() == ["total", "6", "1,500", "200", "0.0075"]
    assert lines[5].startswith("since 2026-07-28 UTC; USD 0.003 in, 0.015 out per 1k tokens;")


def test_days_must_be_positive() -> None:
    with pytest.raises(SystemExit) as exited:
        usage_module._arguments(["--days", "0"])
    assert exited.value.code == 2
