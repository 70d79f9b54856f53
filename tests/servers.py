"""A fake AWS agent server and a real boto3 client talking to it, as a pair of fixtures; what
a backend built on that client answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from typing import Any, TypeVar

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config

from bot.agents.base import AgentBackend
from bot.events import AgentEvent, AgentRequest
from tests.fakes.scripted import ScriptedServer

Server = TypeVar("Server", bound=ScriptedServer[Any])


def make_client(endpoint_url: str | None, service: str = "bedrock-agent-runtime") -> BaseClient:
    """A boto3 client of `service` at `endpoint_url` that makes one attempt a call.

    botocore retries 429/5xx with random backoff of up to seconds; a single attempt keeps
    tests fast and stops a retry (botocore's, hiding ours) from silently consuming the next
    enqueued script.
    """
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


def server_and_client(
    server: Callable[[], Server], service: str
) -> tuple[Callable[[], AsyncIterator[Server]], Callable[[Server], Iterator[BaseClient]]]:
    """Fixtures `fake` (a running `server`) and `client` (a `service` client talking to it).

    A test module takes them with `fake, client = server_and_client(...)`.
    """

    @pytest.fixture(name="fake")
    async def fake_fixture() -> AsyncIterator[Server]:
        async with server() as running:
            yield running

    @pytest.fixture(name="client")
    def client_fixture(fake: Server) -> Iterator[BaseClient]:
        # Closing the pool avoids ResourceWarnings for sockets left by broken streams.
        with closing(make_client(fake.url, service)) as made:
            yield made

    return fake_fixture, client_fixture


async def collect(agent: AgentBackend, request: AgentRequest) -> list[AgentEvent]:
    """Everything `agent` answers to `request`; the agent is closed afterwards."""
    try:
        return [event async for event in agent.stream(request)]
    finally:
        await agent.aclose()
