"""What every fake HTTP server shares: an aiohttp app on a free port of 127.0.0.1, and AWS's
restJson error answer."""

from __future__ import annotations

import uuid
from typing import ClassVar, Self

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


class ControlPlane(LocalServer):
    """An AWS control-plane fake: records request paths; ``deny = True`` refuses every call."""

    def __init__(self) -> None:
        super().__init__()
        self.deny = False
        self.requests: list[str] = []  # request paths, in arrival order

    def _denied(self, request: web.Request) -> web.Response | None:
        """Record the request; the AccessDenied answer when ``deny`` is set, else None."""
        self.requests.append(request.path)
        if self.deny:
            return aws_error(403, "AccessDeniedException", "User is not authorized to perform this")
        return None


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    """A restJson error as AWS sends it: botocore reads the code from ``x-amzn-ErrorType``."""
    headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())}
    return web.json_response({"message": message}, status=status, headers=headers)
