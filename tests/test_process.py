"""Black box: `python -m bot` as a separate process, driven only through env, HTTP and fakes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import aiohttp

from tests.fakes.__main__ import wait_ready
from tests.fakes.bedrock import Script
from tests.fakes.signing import event_envelope, signed_headers
from tests.fakes.slack import FakeSlack
from tests.harness import SIGNING_SECRET, FakeAgent, bot_env, mention


async def test_python_m_bot_answers_a_mention_and_exits_cleanly_on_sigterm(
    slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str, unused_tcp_port: int
) -> None:
    bedrock.enqueue(Script.answer("Shipped **today**.", chunk_size=5))
    env = os.environ | bot_env(slack, bedrock, redis_prefix) | {"PORT": str(unused_tcp_port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        url = f"http://127.0.0.1:{unused_tcp_port}"
        await wait_ready(url)
        event = mention("where is my order?")
        body = json.dumps(event_envelope(event))
        headers = {"Content-Type": "application/json", **signed_headers(body, SIGNING_SECRET)}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/slack/events", data=body, headers=headers) as resp:
                assert resp.status == 200
            async with http.get(f"{url}/readyz") as resp:
                assert resp.status == 200
        await slack.wait_for(
            lambda: (
                [m.visible for m in slack.thread("C0CHAN", event["ts"])] == ["Shipped **today**."]
            )
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0
    logs = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    assert any(entry["msg"] == "answer finished" and entry["outcome"] == "ok" for entry in logs)
    assert slack.token not in stderr.decode()
    assert SIGNING_SECRET not in stderr.decode()
    assert "where is my order?" not in stderr.decode()
