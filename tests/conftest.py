"""Shared fixtures: the fakes, a unique Redis key prefix, and a bot started against them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.app import Runtime
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.fakes.slack import FakeSlack
from tests.harness import AWS_ENV, REDIS_URL, Bot, bot_env, start_bot, unique_prefix

# botocore resolves credentials at the first call, long after a test patched its environment.
os.environ.update(AWS_ENV)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrockAgentRuntime]:
    fake = FakeBedrockAgentRuntime()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = unique_prefix()
    yield prefix
    client = Redis.from_url(REDIS_URL)
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)
    await client.aclose()


StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start(
    slack: FakeSlack, bedrock: FakeBedrockAgentRuntime, redis_prefix: str
) -> AsyncIterator[StartBot]:
    """`await start(SLACK_STREAMING="update", ...)` → a running bot; all are stopped at the end."""
    runtimes: list[Runtime] = []
    http = aiohttp.ClientSession()

    async def _start(**overrides: str) -> Bot:
        env = bot_env(slack, bedrock, redis_prefix) | overrides
        runtime = await start_bot(env)
        runtimes.append(runtime)
        return Bot(runtime=runtime, http=http)

    yield _start
    for runtime in runtimes:
        await runtime.stop(grace=5)
    await http.close()


@pytest.fixture
async def bot(start: StartBot) -> Bot:
    return await start()
