"""The store's one error boundary and its outage buffer, without a Redis."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.exceptions import (
    ConnectionError,
    CrossSlotTransactionError,
    ResponseError,
    SlotNotCoveredError,
)

from bot.history import StoredTurn
from bot.memory.guard import StoreGuard
from bot.memory.outbox import Outbox, PendingTurn


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("refused"),
        ResponseError("MOVED 3999 127.0.0.1:30002"),
        CrossSlotTransactionError("keys in different slots"),
        SlotNotCoveredError("slot 42 is not covered"),
        OSError("network unreachable"),
    ],
    ids=type,
)
async def test_every_redis_and_cluster_error_means_answering_without_memory(
    error: Exception,
) -> None:
    recovered: list[bool] = []
    guard = StoreGuard(fast_timeout=1, on_recovery=lambda: recovered.append(True))

    async def failing() -> str:
        raise error

    async def working() -> str:
        return "value"

    assert await guard.run("op", failing, fallback="fallback") == "fallback"
    assert guard.available is False
    assert await guard.run("op", working, fallback="fallback") == "value"
    assert guard.available is True and recovered == [True]


async def test_a_call_over_the_latency_budget_falls_back_and_still_finishes() -> None:
    guard = StoreGuard(fast_timeout=0.05)
    answer, finished = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        await answer.wait()
        finished.set()
        return "late"

    assert await guard.run("claim", slow, fallback="local", fast=True) == "local"
    assert guard.available is False
    answer.set()  # the reply comes after all: the call was not cancelled (its connection lives)
    await asyncio.wait_for(finished.wait(), 5)


def test_a_full_outage_buffer_drops_the_oldest_turn_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = Outbox(capacity=2)
    turns = [PendingTurn(f"T:C:{n}", StoredTurn(f"q{n}", "a"), 1, True, 0.0) for n in range(3)]
    with caplog.at_level(logging.ERROR):
        for turn in turns:
            outbox.keep(turn)

    assert len(outbox) == 2 and outbox.peek() is turns[1]
    [lost] = [r for r in caplog.records if "is lost" in r.getMessage()]
    assert lost.conversation == "T:C:0"
    assert "q0" not in lost.getMessage()  # never the text
