"""A redis-server of a test's own, which the test can stop and start again."""

from __future__ import annotations

import asyncio
import shutil
import socket

from redis.asyncio import Redis


class PrivateRedis:
    """A redis-server of this test's own, so it can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(10):
                while True:
                    try:
                        if await client.ping():
                            return
                    except OSError:
                        await asyncio.sleep(0.05)  # polling a server that is starting up
                    except Exception:
                        await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
