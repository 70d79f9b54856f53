"""Start-up tells the operator what is wrong with the setup at once, not only in /readyz."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from tests.conftest import StartBot
from tests.fakes.slack import FakeSlack
from tests.harness import FakeAgent, mention

pytestmark = pytest.mark.bedrock_only("start-up checks do not depend on the agent backend")


async def test_a_set_but_unreachable_redis_url_is_warned_at_start_up_and_answers_still_come(
    start: StartBot,
    slack: FakeSlack,
    bedrock: FakeAgent,
    caplog: pytest.LogCaptureFixture,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    caplog.set_level(logging.WARNING)
    port = unused_tcp_port_factory()  # nothing listens there
    bot = await start(REDIS_URL=f"redis://:hunter2@127.0.0.1:{port}/0")

    warnings = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert getattr(warnings[0], "redis", "") == f"127.0.0.1:{port}"
    assert "hunter2" not in caplog.text
    status, body = await bot.get("/readyz")
    assert status == 503 and json.loads(body)["checks"]["redis"].startswith("unreachable")
    event = mention("without memory")
    await bot.send_event(event)
    await slack.wait_for(
        lambda: any(
            "You said: without memory" in m.visible for m in slack.thread("C0CHAN", event["ts"])
        )
    )


async def test_a_reachable_redis_is_not_warned_about(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await start()
    assert "Redis is unreachable" not in caplog.text
