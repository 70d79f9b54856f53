"""Start the real app in-process against the fakes and talk to it over signed HTTP."""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis, RedisCluster

from bot.agents.agentcore import runtime_session_id
from bot.app import Runtime
from bot.keys import Keys, conversation_key
from bot.memory import Client
from bot.settings import load_settings
from bot.turn import Turn
from tests.fakes.agentcore import FakeAgentCoreRuntime
from tests.fakes.bedrock import FakeBedrockAgentRuntime
from tests.fakes.harness import FakeHarness
from tests.fakes.knowledge_base import FakeBedrockWithKnowledgeBase
from tests.fakes.signing import event_envelope, signed_headers
from tests.fakes.slack import FakeSlack

SIGNING_SECRET = "test-signing-secret"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# A 3-primary Redis Cluster; .ci/redis-cluster starts one on 127.0.0.1:30001-30003.
REDIS_CLUSTER_URL = os.environ.get("TEST_REDIS_CLUSTER_URL", "redis://127.0.0.1:30001")


@dataclass(frozen=True)
class RedisTarget:
    """A Redis the bot and the test talk to: one server, or a Redis Cluster (REDIS_CLUSTER)."""

    name: str
    url: str
    cluster: bool

    @property
    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url, "REDIS_CLUSTER": "true" if self.cluster else "false"}

    def client(self) -> Client:
        if self.cluster:
            return RedisCluster.from_url(self.url)
        return Redis.from_url(self.url)


STANDALONE = RedisTarget("standalone", REDIS_URL, cluster=False)
CLUSTER = RedisTarget("cluster", REDIS_CLUSTER_URL, cluster=True)

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


FakeAgent = FakeBedrockAgentRuntime | FakeAgentCoreRuntime | FakeHarness

# AGENT_BACKEND value → the fake that speaks that backend's API; also the ids of the tests.
BACKENDS: dict[str, type[FakeAgent]] = {
    "bedrock-agents": FakeBedrockAgentRuntime,
    "agentcore": FakeAgentCoreRuntime,
    "harness": FakeHarness,
}
RUNTIME_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/bench-abc123"
HARNESS_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:harness/handbook-a1b2c3d4e5"
# Knowledge-Base DMs (DM_KNOWLEDGE_BASE_ID + DM_MODEL_ARN) beside a Bedrock agent: a `bedrock`
# variant for the DM suite (`with_knowledge_base`), not for every suite.
KNOWLEDGE_BASE = "knowledge-base"
KB_ID = "KB12345678"
KB_MODEL_ARN = (
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"
)
VARIANTS: dict[str, type[FakeAgent]] = {**BACKENDS, KNOWLEDGE_BASE: FakeBedrockWithKnowledgeBase}
with_knowledge_base = pytest.mark.parametrize("bedrock", list(VARIANTS), indirect=True)


def backend_name(agent: FakeAgent) -> str:
    """The AGENT_BACKEND that talks to `agent`."""
    return next(name for name, fake in BACKENDS.items() if isinstance(agent, fake))


def agent_env(agent: FakeAgent) -> dict[str, str]:
    """The variables that point the bot at `agent`, with the backend that speaks its API."""
    if isinstance(agent, FakeHarness):
        return {
            "AGENT_BACKEND": "harness",
            "AGENTCORE_HARNESS_ARN": HARNESS_ARN,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": agent.url,
        }
    if isinstance(agent, FakeBedrockWithKnowledgeBase):
        return {
            "AGENT_BACKEND": "bedrock-agents",
            "BEDROCK_AGENT_ID": "AGENT12345",
            "BEDROCK_AGENT_ALIAS_ID": "ALIAS12345",
            "DM_KNOWLEDGE_BASE_ID": KB_ID,
            "DM_MODEL_ARN": KB_MODEL_ARN,
            "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME": agent.url,
        }
    if isinstance(agent, FakeAgentCoreRuntime):
        return {
            "AGENT_BACKEND": "agentcore",
            "AGENTCORE_RUNTIME_ARN": RUNTIME_ARN,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": agent.url,
        }
    return {
        "AGENT_BACKEND": "bedrock-agents",
        "BEDROCK_AGENT_ID": "AGENT12345",
        "BEDROCK_AGENT_ALIAS_ID": "ALIAS12345",
        "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME": agent.url,
    }


def bot_env(
    slack: FakeSlack, agent: FakeAgent, prefix: str, redis: RedisTarget = STANDALONE
) -> dict[str, str]:
    """The environment `python -m bot` needs to run against the fakes."""
    return {
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        **agent_env(agent),
        "AWS_REGION": "us-east-1",
        **redis.env,
        "REDIS_KEY_PREFIX": prefix,
        # Eight test runs share two cores: a starved event loop must not pass for a slow
        # Redis (tests of the latency budget set their own).
        "REDIS_LATENCY_BUDGET_MS": "3000",
        "STREAM_UPDATE_INTERVAL_MS": "100",
        "AGENT_RETRY_BASE_SECONDS": "0.01",
        "PORT": "0",
        **AWS_ENV,
    }


@contextmanager
def patched_env(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@dataclass
class Bot:
    """A running bot plus the client side of its HTTP interface."""

    runtime: Runtime
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.runtime.port}"

    async def post_signed(
        self,
        body: str,
        *,
        content_type: str = "application/json",
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        all_headers = {
            "Content-Type": content_type,
            **signed_headers(body, secret, timestamp=timestamp),
        }
        all_headers.update(headers or {})
        async with self.http.post(
            f"{self.url}/slack/events", data=body, headers=all_headers
        ) as resp:
            await resp.read()
            return resp

    async def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        team_id: str = "T0001",
        retry_num: int | None = None,
    ) -> aiohttp.ClientResponse:
        envelope = event_envelope(event, team_id=team_id, event_id=event_id)
        headers = (
            {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
            if retry_num
            else None
        )
        return await self.post_signed(json.dumps(envelope), headers=headers)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"{self.url}{path}") as resp:
            return resp.status, await resp.text()


def mention(
    text: str,
    *,
    user: str = "U0USER",
    channel: str = "C0CHAN",
    ts: str | None = None,
    thread_ts: str | None = None,
    bot_user_id: str = "UBOT",
) -> dict[str, Any]:
    """An `app_mention` event as Slack sends it."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{bot_user_id}> {text}",
        "ts": ts or new_ts(),
        "channel": channel,
        "team": "T0001",
        "event_ts": ts or "0",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def dm(
    text: str,
    *,
    channel: str = "D0DM",
    ts: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A direct message to the bot (`message` event in an `im`), as Slack sends it."""
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel_type": "im",
        "channel": channel,
        "user": "U0USER",
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": "T0001",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def question_turn(
    text: str, *, channel: str = "D0DM", thread_ts: str | None = None, **more: Any
) -> Turn:
    """The turn a handler makes of U0USER's question in `channel` (a DM, else a mention)."""
    surface = "dm" if channel.startswith("D") else "mention"
    conversation = conversation_key("T0001", channel, thread_ts)
    return Turn(surface, "T0001", channel, "U0USER", text, conversation, **more)


# The fake Slack gives the bot's own messages whole hundreds of microseconds ("1700000000.000100",
# "….000200", …). People's messages never get one: in one channel, a question and a reply with
# the same ts would be one message to Slack (its reaction then seemingly gone, say).
_counter = (n for n in itertools.count(1) if n % 100)


def new_ts() -> str:
    """A fresh ts for a person's message, distinct from every ts the fake Slack hands out."""
    return f"1700000000.{next(_counter):06d}"


def unique_prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


async def start_bot(env: Mapping[str, str]) -> Runtime:
    with patched_env(env):
        settings = load_settings()
        runtime = Runtime(settings)
    await runtime.start(host="127.0.0.1")
    return runtime


def finished_answers(slack: FakeSlack) -> int:
    """Answers the bot has finished: each ends by clearing its sign of life (👀 or status)."""
    return sum(
        1
        for c in slack.calls
        if c.ok
        and (
            c.method == "reactions.remove"
            or (c.method == "assistant.threads.setStatus" and c.args.get("status") == "")
        )
    )


async def wait_finished(slack: FakeSlack, count: int = 1) -> None:
    await slack.wait_for(lambda: finished_answers(slack) >= count)


def expected_session(agent: FakeAgent, session_id: str) -> str:
    """The session id `agent` sees for the bot's session `session_id` (Bedrock's, readable form).

    Bedrock Agents gets it as it is, e.g. "T0001:C0CHAN:<thread ts>:g2"; AgentCore (runtime or
    harness) gets the runtimeSessionId derived from it.
    """
    derived = isinstance(agent, FakeAgentCoreRuntime | FakeHarness)
    return runtime_session_id(session_id) if derived else session_id


def for_each_backend(
    argnames: str, table: Mapping[str, Iterable[tuple[Any, ...]]]
) -> pytest.MarkDecorator:
    """Parametrise the `bedrock` fixture together with `argnames`: each backend with its rows.

    For cases that differ by backend (an error code one API has and the other has not), where
    the fixture alone would run every row against both backends.
    """
    names = [name.strip() for name in argnames.split(",")]
    params = [
        pytest.param(backend, *row, id="-".join([backend, *map(str, row)]))
        for backend, rows in table.items()
        for row in rows
    ]
    return pytest.mark.parametrize(["bedrock", *names], params, indirect=["bedrock"])


def thread_keys(prefix: str, thread_ts: str, channel: str = "C0CHAN") -> tuple[Keys, str]:
    """The bot's keys under `prefix`, and the conversation of thread `thread_ts`."""
    return Keys(prefix), conversation_key("T0001", channel, thread_ts)


async def make_idle(
    redis_prefix: str,
    thread_ts: str,
    *,
    seconds: float = 10_000,
    redis: RedisTarget = STANDALONE,
) -> None:
    """Pretend the conversation's last answer ended `seconds` ago."""
    keys, conversation = thread_keys(redis_prefix, thread_ts)
    client = redis.client()
    await client.hset(keys.session(conversation), "last_active", time.time() - seconds)
    await client.aclose()


async def stored_turns(
    redis_prefix: str,
    thread_ts: str,
    *,
    redis: RedisTarget = STANDALONE,
    channel: str = "C0CHAN",
) -> list[bytes]:
    """The turns Redis holds for thread `thread_ts` (in C0CHAN), oldest first."""
    keys, conversation = thread_keys(redis_prefix, thread_ts, channel)
    client = redis.client()
    turns: list[bytes] = await client.lrange(keys.turns(conversation), 0, -1)
    await client.aclose()
    return turns


@dataclass(frozen=True)
class BotRedis:
    """The Redis of a test (server or cluster) and the key prefix the test's bots use in it."""

    target: RedisTarget
    prefix: str

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)

    def client(self) -> Client:
        return self.target.client()

    async def make_idle(self, thread_ts: str) -> None:
        """Pretend the conversation of thread `thread_ts` (in C0CHAN) last answered long ago."""
        await make_idle(self.prefix, thread_ts, redis=self.target)

    async def stored_turns(self, thread_ts: str, channel: str = "C0CHAN") -> list[bytes]:
        return await stored_turns(self.prefix, thread_ts, redis=self.target, channel=channel)
