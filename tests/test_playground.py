"""The playground without a browser: the first command, the agent it picks, the signed path to
the bot, memory, and its loopback-only bind. (Browser tests: tests/playground/.)"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.playground.model import CHANNEL_ID, Message
from bot.playground.runner import Playground, choose_settings
from bot.settings import AgentBackend
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.harness import REDIS_URL, patched_env

ROOT = Path(__file__).resolve().parents[1]


async def started(**overrides: object) -> Playground:
    playground = Playground(choose_settings(port=0, log_level="WARNING", **overrides))
    await playground.start()
    return playground


@pytest.fixture
async def demo() -> AsyncIterator[Playground]:
    playground = await started(agent_backend="demo", redis_url=None)
    yield playground
    await playground.stop(grace=2)


async def until(playground: Playground, check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for `check()` to hold; re-checked whenever the page's feed gets an event."""
    feed = playground.workspace.feed
    deadline = time.monotonic() + within
    while not check():
        left = deadline - time.monotonic()
        assert left > 0, "condition not met in time"
        await feed.wait_after(feed.last_id, within=left)


def finished_answers(playground: Playground, channel: str = CHANNEL_ID) -> list[Message]:
    return [
        m
        for m in playground.workspace.messages.values()
        if m.channel == channel and m.author == "bot" and m.blocks and not m.streaming
    ]


async def send(playground: Playground, **body: object) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{playground.url}/playground/send", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        return dict(await response.json())


def test_python_m_bot_with_nothing_configured_starts_the_playground_saying_so_in_one_line(
    tmp_path: Path,
) -> None:
    unset = ("SLACK_", "BEDROCK_", "AGENT", "REDIS_", "PORT", "PLAYGROUND_", "LOG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(unset)} | {"PORT": "0"}
    env["PYTHONPATH"] = str(ROOT)
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env here
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert bot.stdout is not None
        line = bot.stdout.readline()
        assert line.startswith("No Slack token or OAuth client configured"), line
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found and "(demo agent)" in line, line
        page = asyncio.run(fetch(found.group(0)))
        assert 'data-testid="composer"' in page and "demo agent" in page
    finally:
        bot.send_signal(signal.SIGTERM)
        out, _ = bot.communicate(timeout=30)
    assert bot.returncode == 0
    assert out == "", "the one line is all it prints on stdout"


async def fetch(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.text()


async def test_the_playground_and_the_bot_listen_on_loopback_only_by_default(
    demo: Playground,
) -> None:
    assert demo.url.startswith("http://127.0.0.1:")
    assert demo.choice.settings.playground_host == "127.0.0.1"


async def test_a_mention_typed_on_the_page_reaches_the_bot_signed_and_is_answered(
    demo: Playground,
) -> None:
    sent = await send(demo, view="channel", thread_ts=None, text="@Bedrock Agent hello?")
    question = demo.workspace.messages[(CHANNEL_ID, str(sent["ts"]))]
    await until(demo, lambda: question.reactions == ["eyes"])  # the sign of life, at once
    # …and gone once the answer is complete.
    await until(demo, lambda: bool(finished_answers(demo)) and not question.reactions)
    (answer,) = finished_answers(demo)
    assert answer.thread_ts == sent["ts"] and answer.streamed
    assert "[1]" in answer.markdown_text and "Sources" in answer.markdown_text
    assert demo.runtime is not None
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{demo.runtime.port}/slack/events", data="{}") as unsigned,
    ):
        assert unsigned.status == 401, "the page's requests pass only because they are signed"


async def test_in_update_mode_the_page_follows_the_placeholder_as_it_is_edited() -> None:
    playground = await started(agent_backend="demo", redis_url=None, slack_streaming="update")
    try:
        await send(playground, view="channel", thread_ts=None, text="@Bedrock Agent hi")
        await until(playground, lambda: bool(finished_answers(playground)))
        (answer,) = finished_answers(playground)
        shown = [
            e.data["html"]
            for e in playground.workspace.feed.after(0) or []
            if e.kind == "message" and e.data["ts"] == answer.ts
        ]
        assert "Thinking" in shown[0], "a placeholder first"
        assert len(shown) >= 3, "then edits as the text grows, then the final one"
        assert "<strong>Markdown</strong>" in shown[-1] and "answer_feedback" in shown[-1]
    finally:
        await playground.stop(grace=2)


async def test_unknown_commands_and_bad_page_requests_get_clean_answers(demo: Playground) -> None:
    await send(demo, view="channel", thread_ts=None, text="/weather")
    (note,) = demo.workspace.messages.values()
    assert note.ephemeral and "/order ORD-88421" in note.text
    async with aiohttp.ClientSession() as http:
        for body in ({"view": "nowhere", "text": "x"}, {"view": "dm", "text": "   "}):
            async with http.post(f"{demo.url}/playground/send", json=body) as response:
                assert response.status == 400
        json_type = {"Content-Type": "application/json"}
        async with http.post(
            f"{demo.url}/playground/send", data=b"\xff", headers=json_type
        ) as response:
            assert response.status == 400


async def test_other_sites_can_neither_read_the_page_nor_post_to_it(demo: Playground) -> None:
    async with aiohttp.ClientSession() as http:
        # DNS rebinding: another name that resolves to 127.0.0.1.
        async with http.get(f"{demo.url}/feed", headers={"Host": "evil.example"}) as response:
            assert response.status == 403
        # A cross-site form post (no preflight): refused, nothing posted.
        body = '{"view": "channel", "text": "@Bedrock Agent hi"}'
        headers = {"Content-Type": "text/plain"}
        async with http.post(f"{demo.url}/playground/send", data=body, headers=headers) as response:
            assert response.status == 415
    assert not demo.workspace.messages


def without_aws_credentials() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PROFILE": "",
    }


def test_a_configured_agent_without_aws_credentials_gives_way_to_the_demo_agent() -> None:
    agent = {"BEDROCK_AGENT_ID": "AGENT12345", "BEDROCK_AGENT_ALIAS_ID": "ALIAS12345"}
    with patched_env(agent | without_aws_credentials()):
        for key in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ):
            os.environ.pop(key)
        choice = choose_settings()
    assert choice.settings.agent_backend is AgentBackend.DEMO
    assert "no AWS credentials" in choice.note


async def test_with_credentials_and_an_agent_configured_the_playground_asks_that_agent(
    redis_prefix: str,
) -> None:
    async with FakeBedrockAgentRuntime() as bedrock:
        env = {
            "BEDROCK_AGENT_ID": "AGENT12345",
            "BEDROCK_AGENT_ALIAS_ID": "ALIAS12345",
            "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME": bedrock.url,
        }
        with patched_env(env):
            playground = await started(redis_url=REDIS_URL, redis_key_prefix=redis_prefix)
        try:
            assert playground.server.facts.agent_label == "Bedrock agent AGENT12345 / ALIAS12345"
            await send(playground, view="channel", thread_ts=None, text="@Bedrock Agent ping")
            await until(playground, lambda: bool(finished_answers(playground)))
            assert "You said: ping" in finished_answers(playground)[0].markdown_text
            assert [i.input_text for i in bedrock.invocations] == ["ping"]
            redis = Redis.from_url(REDIS_URL)
            keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}*")]
            await redis.aclose()
            assert keys, "with REDIS_URL set, the conversation is kept in Redis"
        finally:
            await playground.stop(grace=2)
