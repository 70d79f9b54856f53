"""Crash takeover with real replica processes: kill -9 one mid-answer, the other finishes it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.__main__ import wait_ready
from tests.fakes.bedrock import FakeBedrockAgentRuntime, Pause, Script, Text
from tests.fakes.signing import event_envelope, signed_headers
from tests.fakes.slack import FakeSlack
from tests.harness import SIGNING_SECRET, mention

LEASE = 2  # TURN_LEASE_SECONDS for these tests: a takeover within a few seconds
# The question's ts: earlier than every ts the fake Slack gives the bot's replies, as in Slack,
# where the new owner looks for the dead replica's messages after the question.
ASKED_TS = "1699999999.000500"

pytestmark = [
    pytest.mark.both_redis,
    pytest.mark.bedrock_only("takeover is the same for every agent backend"),
]


class Replica:
    """`python -m bot` as its own process, so it can die as a process dies."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self._env = env | {"PORT": str(self.port)}
        self._log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=self._env, stderr=log
            )
        await wait_ready(f"http://127.0.0.1:{self.port}")

    async def send(self, event: dict[str, object]) -> None:
        await self.post(json.dumps(event_envelope(event)))

    async def post(self, body: str) -> None:
        headers = {"Content-Type": "application/json", **signed_headers(body, SIGNING_SECRET)}
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{self.port}/slack/events"
            async with http.post(url, data=body, headers=headers) as resp:
                assert resp.status == 200

    async def wait_for_log(self, text: str, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            # Another process writes the file: there is no event to wait on, only the file.
            while text not in self._log.read_text():  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)


Replicas = Callable[[], Replica]


@asynccontextmanager
async def replicas_with(env: dict[str, str], logs: Path) -> AsyncIterator[Replicas]:
    """Make replicas with `env` and a short lease, each logging into `logs`; stop them after."""
    env = env | {"TURN_LEASE_SECONDS": str(LEASE), "SLACK_STREAMING": "native"}
    started: list[Replica] = []

    def make() -> Replica:
        replica = Replica(env, logs / f"replica{len(started)}.log")
        started.append(replica)
        return replica

    try:
        yield make
    finally:
        for replica in started:
            await replica.stop()


@pytest.fixture
async def replicas(bot_environment: dict[str, str], tmp_path: Path) -> AsyncIterator[Replicas]:
    async with replicas_with(os.environ | bot_environment, tmp_path) as make:
        yield make


async def started(*replicas: Replica) -> tuple[Replica, ...]:
    await asyncio.gather(*(replica.start() for replica in replicas))
    return replicas


async def ask_until_shown(
    replica: Replica, slack: FakeSlack, text: str, shown: str
) -> dict[str, str]:
    """Ask `replica` (in C0CHAN, at ASKED_TS); return the question once its answer shows `shown`."""
    question = mention(text, ts=ASKED_TS)
    await replica.send(question)
    await slack.wait_for(lambda: any(shown in m.visible for m in slack.thread("C0CHAN", ASKED_TS)))
    return question


def complete_answers(
    slack: FakeSlack, thread_ts: str, text: str, channel: str = "C0CHAN"
) -> list[str]:
    return [
        m.visible
        for m in slack.thread(channel, thread_ts)
        if m.visible.startswith(f"You said: {text}") and not m.streaming
    ]


async def assert_taken_over(
    slack: FakeSlack, bedrock: FakeBedrockAgentRuntime, question: dict[str, str]
) -> None:
    """One complete answer, nothing left open or shown as working, the agent asked again."""
    channel, ts = question["channel"], question["ts"]
    text = question["text"].split("> ", 1)[1]  # without the mention of the bot
    await slack.wait_for(
        lambda: (
            bool(complete_answers(slack, ts, text, channel)) and not slack.reactions_on(channel, ts)
        ),
        timeout=LEASE + 15,
    )
    thread = slack.thread(channel, ts)
    assert len(complete_answers(slack, ts, text, channel)) == 1
    assert not any(m.streaming for m in thread)
    for dead in thread[:-1]:
        assert "continued below" in dead.visible
    first, again = bedrock.invocations[:2]
    assert again.input_text == first.input_text == text
    assert again.session_id != first.session_id  # a fresh generation: the old one may be busy


async def test_a_replica_killed_mid_stream_is_taken_over_and_the_thread_answered_once(
    replicas: Replicas, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    bedrock.enqueue(Script([Text("Partly answered, "), Pause(120)]))
    dying, survivor = await started(replicas(), replicas())

    question = await ask_until_shown(dying, slack, "what is the leave policy?", "Partly")
    await dying.kill()

    await assert_taken_over(slack, bedrock, question)
    follow_up = mention("and for part-timers?", thread_ts=question["ts"])
    await survivor.send(follow_up)
    await slack.wait_for(
        lambda: bool(complete_answers(slack, question["ts"], "and for part-timers?")),
        timeout=LEASE + 5,
    )


async def test_a_replica_killed_before_its_first_text_is_taken_over(
    replicas: Replicas, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    bedrock.enqueue(Script([Pause(120)]))
    dying, _survivor = await started(replicas(), replicas())
    question = mention("where is the handbook?", ts=ASKED_TS)

    await dying.send(question)
    await slack.wait_for(lambda: bool(slack.reactions_on("C0CHAN", question["ts"])))
    await bedrock.wait_for_invocations(1)
    await dying.kill()

    await assert_taken_over(slack, bedrock, question)


async def test_when_every_replica_died_a_restarted_one_takes_the_turn_over(
    replicas: Replicas, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    bedrock.enqueue(Script([Text("Half of it, "), Pause(120)]))
    [only] = await started(replicas())
    question = await ask_until_shown(only, slack, "how do expenses work?", "Half")
    await only.kill()

    await replicas().start()

    await assert_taken_over(slack, bedrock, question)


async def test_a_frozen_replica_whose_turn_was_taken_over_writes_nothing_more(
    replicas: Replicas, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    more_text = asyncio.Event()
    bedrock.enqueue(
        Script([Text("Partly answered, "), Pause(120, until=more_text), Text("late words")])
    )
    frozen, _survivor = await started(replicas(), replicas())
    question = await ask_until_shown(frozen, slack, "what is the dress code?", "Partly")
    assert frozen.process is not None
    frozen.process.send_signal(signal.SIGSTOP)  # alive, but silent for longer than a lease

    await assert_taken_over(slack, bedrock, question)
    frozen.process.send_signal(signal.SIGCONT)
    await frozen.wait_for_log("this one stops writing")
    more_text.set()  # the agent goes on talking to the replica that lost the turn
    await bedrock.invocations[0].wait_finished(timeout=10)

    thread = slack.thread("C0CHAN", question["ts"])
    assert not any("late words" in m.visible for m in thread)
    assert "continued below" in thread[0].visible
    assert len(complete_answers(slack, question["ts"], "what is the dress code?")) == 1
