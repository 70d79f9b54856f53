"""A TCP proxy in front of the real Redis that can hold back every reply: a Redis that is up
but does not answer (overloaded, failing over), without a timer in the test."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class RedisGate:
    def __init__(self, upstream_port: int = 6379) -> None:
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._open = asyncio.Event()
        self._open.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.replies_forwarded = 0
        self.requests = 0  # writes from the bot: one per round trip (a pipeline is one)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/0"

    def hold_replies(self) -> None:
        """From now on Redis's replies are held; `replies_forwarded` counts from here."""
        self._open.clear()
        self.replies_forwarded = 0

    def release_replies(self) -> None:
        self._open.set()

    async def __aenter__(self) -> RedisGate:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, gated=False)),
            asyncio.create_task(self._pump(up_reader, writer, gated=True)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
            self._tasks.discard(pump)
        for stream in (writer, up_writer):
            stream.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, gated: bool
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                if gated:
                    await self._open.wait()
                    self.replies_forwarded += 1
                else:
                    self.requests += 1
                sink.write(data)
                await sink.drain()
