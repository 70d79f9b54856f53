"""Shared fixtures: the fakes, a unique Redis key prefix, and a bot started against them.

`bedrock` is the fake agent runtime, once per backend (ids `bedrock-agents`, `agentcore` and
`harness`; the name predates the others): every test that uses it, or `start`/`bot`, runs against both, with
the bot configured for that backend. Its invocations read the same either way (`input_text`,
`session_attributes`, `conversation_history`, `session_id`, …). A test about something only
Bedrock Agents has is marked `@pytest.mark.bedrock_only("why")`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.app import Runtime
from tests.fakes.slack import FakeSlack
from tests.harness import (
    AWS_ENV,
    BACKENDS,
    REDIS_URL,
    VARIANTS,
    Bot,
    FakeAgent,
    bot_env,
    start_bot,
    unique_prefix,
)

# botocore resolves credentials at the first call, long after a test patched its environment.
os.environ.update(AWS_ENV)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bedrock_only(reason): the test does not apply to the agentcore backend"
    )
    config.addinivalue_line(
        "markers", "not_harness(reason): the test does not apply to the harness backend"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the agentcore run of `bedrock_only` tests, with the marker's reason."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("bedrock") if callspec is not None else None
        marker = item.get_closest_marker("bedrock_only")
        if marker and backend in ("agentcore", "harness"):
            reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"Bedrock Agents only: {reason}"))
        marker = item.get_closest_marker("not_harness")
        if marker and backend == "harness":
            reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"not on the harness: {reason}"))


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(params=list(BACKENDS))
async def bedrock(request: pytest.FixtureRequest) -> AsyncIterator[FakeAgent]:
    """The fake agent runtime of one backend; the bot from `start`/`bot` is configured for it."""
    async with VARIANTS[request.param]() as fake:
        yield fake


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
async def start(slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str) -> AsyncIterator[StartBot]:
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
