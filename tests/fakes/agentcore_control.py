"""Local `bedrock-agentcore-control` (GetAgentRuntime, GetHarness, GetHarnessEndpoint).

Point boto3 at it with `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL=fake.url`. Answers follow
botocore's restJson model of that service; errors carry `x-amzn-ErrorType` like AWS's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .server import ControlPlane

_STAMP = "2026-07-01T12:00:00Z"


class FakeAgentCoreControl(ControlPlane):
    """aiohttp server on 127.0.0.1; `deny = True` answers every call with AccessDenied."""

    def __init__(self) -> None:
        super().__init__()
        self.idle_timeout: int | None = 900  # None: the runtime reports no lifecycle
        self.harness_status = "READY"
        self.endpoint_status = "READY"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/runtimes/{runtimeId}/", self._get_runtime),
            web.get("/harnesses/{harnessId}", self._get_harness),
            web.get("/harnesses/{harnessId}/endpoints/{endpointName}", self._get_endpoint),
        ]

    async def _get_runtime(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        runtime_id = request.match_info["runtimeId"]
        body: dict[str, Any] = {
            "agentRuntimeArn": f"arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{runtime_id}",
            "agentRuntimeName": runtime_id.rsplit("-", 1)[0],
            "agentRuntimeId": runtime_id,
            "agentRuntimeVersion": "1",
            "createdAt": _STAMP,
            "lastUpdatedAt": _STAMP,
            "roleArn": "arn:aws:iam::123456789012:role/AgentRuntimeRole",
            "status": "READY",
        }
        if self.idle_timeout is not None:
            body["lifecycleConfiguration"] = {
                "idleRuntimeSessionTimeout": self.idle_timeout,
                "maxLifetime": 28800,
            }
        return web.json_response(body)

    async def _get_harness(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        harness_id = request.match_info["harnessId"]
        harness = {
            "harnessId": harness_id,
            "harnessName": harness_id.rsplit("-", 1)[0],
            "arn": f"arn:aws:bedrock-agentcore:us-east-1:123456789012:harness/{harness_id}",
            "status": self.harness_status,
            "harnessVersion": "3",
            "executionRoleArn": "arn:aws:iam::123456789012:role/HarnessRole",
            "createdAt": _STAMP,
            "updatedAt": _STAMP,
        }
        return web.json_response({"harness": harness})

    async def _get_endpoint(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        name = request.match_info["endpointName"]
        endpoint = {
            "harnessId": request.match_info["harnessId"],
            "endpointName": name,
            "status": self.endpoint_status,
            "liveVersion": "3",
            "createdAt": _STAMP,
            "updatedAt": _STAMP,
        }
        return web.json_response({"endpoint": endpoint})
