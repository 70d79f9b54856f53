"""Shared fixtures: the fakes, a unique Redis key prefix, and a bot started against them.

`bedrock` is the fake agent runtime, once per backend (ids `bedrock-agents`, `agentcore` and
`harness`; the name predates the others): every test that uses it, or `start`/`bot`, runs against both, with
the bot configured for that backend. Its invocations read the same either way (`input_text`,
`session_attributes`, `conversation_history`, `session_id`, …). A test about something only
Bedrock Agents has is marked `@pytest.mark.bedrock_only("why")`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from bot.app import Runtime
from tests.fakes.slack import FakeSlack
from tests.harness import (
    AWS_ENV,
    BACKENDS,
    CLUSTER,
    STANDALONE,
    VARIANTS,
    Bot,
    BotRedis,
    FakeAgent,
    RedisTarget,
    bot_env,
    start_bot,
    unique_prefix,
)
from tests.private_redis import PrivateRedis, free_port

# botocore resolves credentials at the first call, long after a test patched its environment.
os.environ.update(AWS_ENV)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bedrock_only(reason): the test does not apply to the agentcore backend"
    )
    config.addinivalue_line(
        "markers", "not_harness(reason): the test does not apply to the harness backend"
    )
    config.addinivalue_line(
        "markers", "both_redis: run against one Redis server and against a Redis Cluster"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`both_redis` tests run twice: on the standalone Redis and on the Redis Cluster."""
    if metafunc.definition.get_closest_marker("both_redis") and (
        "redis_target" in metafunc.fixturenames
    ):
        metafunc.parametrize(
            "redis_target", [STANDALONE, CLUSTER], indirect=True, ids=lambda t: t.name
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the agentcore run of `bedrock_only` tests, with the marker's reason."""
    deselected = [item for item in items if _cluster_with_agentcore(item)]
    if deselected:
        items[:] = [item for item in items if item not in deselected]
        config.hook.pytest_deselected(items=deselected)
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


def _cluster_with_agentcore(item: pytest.Item) -> bool:
    # Which Redis and which agent backend are independent: the cluster runs with one backend.
    params = getattr(item, "callspec", None)
    return params is not None and (
        params.params.get("redis_target") is CLUSTER
        and params.params.get("bedrock") in ("agentcore", "harness")
    )


@pytest.fixture(scope="session")
def redis_cluster() -> RedisTarget:
    """The Redis Cluster at TEST_REDIS_CLUSTER_URL; started on loopback if none answers."""
    if CLUSTER.url == "redis://127.0.0.1:30001":
        script = os.path.join(os.path.dirname(__file__), "..", ".ci", "redis-cluster")
        subprocess.run([script], check=True, timeout=60)
    return CLUSTER


@pytest.fixture
def redis_target(request: pytest.FixtureRequest) -> RedisTarget:
    """The Redis of this test: standalone, or (for `both_redis` tests) also the cluster."""
    target: RedisTarget = getattr(request, "param", STANDALONE)
    if target.cluster:
        request.getfixturevalue("redis_cluster")
    return target


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    """A redis-server of this test's own, so it can be stopped and started again."""
    server = PrivateRedis(free_port())
    await server.start()
    yield server
    await server.stop()


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
async def redis_prefix(redis_target: RedisTarget) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = unique_prefix()
    yield prefix
    client = redis_target.client()
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def bot_redis(redis_target: RedisTarget, redis_prefix: str) -> BotRedis:
    """This test's Redis and key prefix together, for tests that look at what the bot stored."""
    return BotRedis(redis_target, redis_prefix)


@pytest.fixture
def bot_environment(
    slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str, redis_target: RedisTarget
) -> dict[str, str]:
    """The settings of this test's bots: its fake Slack and agent, its Redis and key prefix."""
    return bot_env(slack, bedrock, redis_prefix, redis_target)


StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start(bot_environment: dict[str, str]) -> AsyncIterator[StartBot]:
    """`await start(SLACK_STREAMING="update", ...)` → a running bot; all are stopped at the end."""
    runtimes: list[Runtime] = []
    http = aiohttp.ClientSession()

    async def _start(**overrides: str) -> Bot:
        runtime = await start_bot(bot_environment | overrides)
        runtimes.append(runtime)
        return Bot(runtime=runtime, http=http)

    yield _start
    for runtime in runtimes:
        await runtime.stop(grace=5)
    await http.close()


@pytest.fixture
async def bot(start: StartBot) -> Bot:
    return await start()
