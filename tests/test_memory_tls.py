"""rediss:// on a Redis Cluster that only speaks TLS, as ElastiCache Serverless does."""

from __future__ import annotations

import json
import os

import pytest

from tests.answers import ask_in_turn
from tests.conftest import StartBot
from tests.fakes.slack import FakeSlack
from tests.harness import BotRedis, FakeAgent, RedisTarget, mention

# .ci/redis-cluster starts this node (port 30004) beside the plain cluster, with its certificate.
TLS_CA = os.path.join(os.environ.get("CI_CLUSTER_DIR", "/tmp/ci-cluster"), "tls", "cert.pem")
TLS_CLUSTER = RedisTarget(
    "cluster-tls",
    os.environ.get("TEST_REDIS_TLS_CLUSTER_URL", f"rediss://127.0.0.1:30004?ssl_ca_certs={TLS_CA}"),
    cluster=True,
)


@pytest.mark.bedrock_only("the Redis path is the same for every backend")
@pytest.mark.parametrize("redis_target", [TLS_CLUSTER], indirect=True, ids=["cluster-tls"])
async def test_over_tls_the_bot_is_ready_remembers_and_answers_follow_ups(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, bot_redis: BotRedis
) -> None:
    bot = await start()
    status, body = await bot.get("/readyz")
    assert status == 200 and json.loads(body)["checks"]["redis"] == "ok"

    first = mention("what is the leave policy?")
    await ask_in_turn(bot, slack, first, mention("and for part-timers?", thread_ts=first["ts"]))

    one, two = await bedrock.wait_for_invocations(2)
    assert two.session_id == one.session_id  # the session came back from the TLS cluster
    turns = await bot_redis.stored_turns(first["ts"])
    assert [json.loads(t)["question"] for t in turns] == [
        "what is the leave policy?",
        "and for part-timers?",
    ]
