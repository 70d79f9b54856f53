"""The event-loop lag sampler (bot/metrics.py `LagWatch`): samples while it runs, none after."""

from __future__ import annotations

import asyncio

from bot.metrics import Metrics


def samples(metrics: Metrics) -> float:
    (family,) = [m for m in metrics.loop_lag.collect()]
    return next(s.value for s in family.samples if s.name.endswith("_count"))


async def test_the_lag_watch_samples_until_it_is_stopped() -> None:
    metrics = Metrics()
    watch = metrics.watch_event_loop(interval=0.01)
    async with asyncio.timeout(5):
        while samples(metrics) < 3:  # noqa: ASYNC110 - polling a counter, with a deadline
            await asyncio.sleep(0.01)
    watch.stop()
    seen = samples(metrics)
    # Past several intervals, nothing more was sampled: the chain of timers ended.
    await asyncio.sleep(0.05)
    assert samples(metrics) == seen
    watch.stop()  # stopping twice is harmless
