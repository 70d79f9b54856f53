"""Socket Mode while Slack is unreachable or refuses: SIGTERM still stops the process at once,
each failed attempt is one log line (no traceback), and /readyz says not ready until connected."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable

import aiohttp
import pytest

from bot.socket_mode import backoff, sdk_logger
from tests.conftest import StartBot
from tests.fakes.signing import event_envelope
from tests.fakes.slack import FakeSlack
from tests.harness import FakeAgent, bot_env, mention, wait_finished

pytestmark = pytest.mark.bedrock_only("Socket Mode does not depend on the agent backend")

GRACE_SECONDS = 5


async def read_until(stream: asyncio.StreamReader, seen: list[str], wanted: str) -> None:
    """Collect log lines until one contains `wanted` (the process's own progress report)."""
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"the process ended before logging {wanted!r}: {seen}")
        seen.append(line)
        if wanted in line:
            return


async def test_sigterm_stops_socket_mode_at_once_while_slack_is_unreachable(
    slack: FakeSlack,
    bedrock: FakeAgent,
    redis_prefix: str,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    closed_port, health_port = unused_tcp_port_factory(), unused_tcp_port_factory()
    env = os.environ | bot_env(slack, bedrock, redis_prefix)
    env |= {
        "SLACK_API_URL": f"http://127.0.0.1:{closed_port}/api/",  # nothing listens there
        "SLACK_APP_TOKEN": "xapp-test",
        "SLACK_SIGNING_SECRET": "",
        "PORT": str(health_port),
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        await asyncio.wait_for(
            read_until(process.stderr, lines, "Socket Mode connection failed"), timeout=20
        )
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{health_port}/readyz") as resp:
                assert resp.status == 503
                assert (await resp.json())["checks"]["socket_mode"] == "not connected"
            async with http.get(f"http://127.0.0.1:{health_port}/healthz") as resp:
                assert resp.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stderr.read(), timeout=GRACE_SECONDS)
        await asyncio.wait_for(process.wait(), timeout=GRACE_SECONDS)

    assert process.returncode == 0
    lines += rest.decode().splitlines()
    assert "Traceback" not in "".join(lines)
    assert len(lines) <= 8, lines
    messages = [json.loads(line)["msg"] for line in lines if line.startswith("{")]
    assert "stopped" in messages


async def test_readyz_is_503_until_socket_mode_connects(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    slack.app_token = "xapp-not-yet-valid"  # apps.connections.open answers invalid_auth
    bot = await start(SLACK_APP_TOKEN="xapp-test", SLACK_SIGNING_SECRET="")

    status, body = await bot.get("/readyz")
    assert status == 503
    assert json.loads(body)["checks"]["socket_mode"] == "not connected"

    await slack.wait_for(lambda: len(slack.calls_to("apps.connections.open")) >= 2)
    slack.app_token = "xapp-test"  # the token is fixed: the next attempt connects
    event = mention("connected now?")
    await slack.socket_send("events_api", event_envelope(event), within=10)
    await wait_finished(slack)
    status, body = await bot.get("/readyz")
    assert status == 200, body


async def test_a_socket_mode_envelope_whose_event_is_not_an_object_is_acked_and_ignored(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    await start(SLACK_APP_TOKEN=slack.app_token, SLACK_SIGNING_SECRET="")

    for odd in ("a string", ["a list"], None, 7):
        ack = await slack.socket_send("events_api", event_envelope({}) | {"event": odd})
        assert "envelope_id" in ack
    event = mention("still listening?")
    await slack.socket_send("events_api", event_envelope(event))

    await wait_finished(slack)
    assert [i.input_text for i in bedrock.invocations] == ["still listening?"]


def test_sdk_records_lose_their_traceback_and_stay_on_one_line() -> None:
    logger = sdk_logger()
    try:
        raise ConnectionRefusedError("refused\nsecond line")
    except ConnectionRefusedError as exc:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            f"Failed to connect (error: {exc})",
            (),
            sys.exc_info(),
        )
    assert all(f.filter(record) for f in logger.filters)
    assert record.exc_info is None and record.getMessage() == (
        "Failed to connect (error: refused second line)"
    )


def test_backoff_doubles_up_to_a_minute_with_jitter() -> None:
    assert 0.5 <= backoff(1) <= 1.0
    assert 4.0 <= backoff(4) <= 8.0
    assert all(30.0 <= backoff(n) <= 60.0 for n in range(7, 40))
