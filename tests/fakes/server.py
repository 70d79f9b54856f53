"""What every fake HTTP server shares: an aiohttp app on a free port of 127.0.0.1, and AWS's
restJson error answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Self

from aiohttp import web


class LocalServer:
    """An aiohttp app on 127.0.0.1 serving ``routes()``; ``async with`` starts and stops it."""

    client_max_size: ClassVar[int] = 1024**2  # aiohttp's default request body limit
    backlog: ClassVar[int] = 128  # aiohttp's default listen backlog
    shutdown_timeout: ClassVar[float] = 60.0  # aiohttp's default wait for in-flight handlers

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        """The paths this fake answers."""
        raise NotImplementedError

    async def start(self) -> None:
        """Listen on a free port and set ``url``."""
        app = web.Application(client_max_size=self.client_max_size)
        app.add_routes(self.routes())
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=self.backlog).start()
        self._runner = runner
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


# The control planes' account, and the time every resource was created and last updated.
ACCOUNT = "123456789012"
STAMP = "2026-07-01T12:00:00Z"
STAMPS = {"createdAt": STAMP, "updatedAt": STAMP}

Describe = Callable[[web.Request], dict[str, Any] | web.Response]


class ControlPlane(LocalServer):
    """An AWS control-plane fake: records request paths; ``deny = True`` refuses every call."""

    def __init__(self) -> None:
        super().__init__()
        self.deny = False
        self.requests: list[str] = []  # request paths, in arrival order

    def described(self, path: str, describe: Describe) -> web.RouteDef:
        """A GET route that records the call and answers AccessDenied while ``deny`` is set,
        else what ``describe`` says: a JSON document, or an error answer."""

        async def handle(request: web.Request) -> web.Response:
            self.requests.append(request.path)
            if self.deny:
                message = "User is not authorized to perform this"
                return aws_error(403, "AccessDeniedException", message)
            found = describe(request)
            return found if isinstance(found, web.Response) else web.json_response(found)

        return web.get(path, handle)


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    """A restJson error as AWS sends it: botocore reads the code from ``x-amzn-ErrorType``."""
    headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())}
    return web.json_response({"message": message}, status=status, headers=headers)
