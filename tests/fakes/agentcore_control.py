"""Local `bedrock-agentcore-control` (GetAgentRuntime, GetHarness, GetHarnessEndpoint).

Point boto3 at it with `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL=fake.url`. Answers follow
botocore's restJson model of that service; errors carry `x-amzn-ErrorType` like AWS's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .server import ACCOUNT, STAMP, STAMPS, ControlPlane

_ARN = f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}"


class FakeAgentCoreControl(ControlPlane):
    """aiohttp server on 127.0.0.1; `deny = True` answers every call with AccessDenied."""

    def __init__(self) -> None:
        super().__init__()
        self.idle_timeout: int | None = 900  # None: the runtime reports no lifecycle
        self.harness_status = "READY"
        self.endpoint_status = "READY"

    def routes(self) -> list[web.RouteDef]:
        return [
            self.described("/runtimes/{runtimeId}/", self._runtime),
            self.described("/harnesses/{harnessId}", self._harness),
            self.described("/harnesses/{harnessId}/endpoints/{endpointName}", self._endpoint),
        ]

    def _runtime(self, request: web.Request) -> dict[str, Any]:
        runtime_id = request.match_info["runtimeId"]
        body: dict[str, Any] = {
            "agentRuntimeArn": f"{_ARN}:runtime/{runtime_id}",
            "agentRuntimeName": runtime_id.rsplit("-", 1)[0],
            "agentRuntimeId": runtime_id,
            "agentRuntimeVersion": "1",
            "createdAt": STAMP,
            "lastUpdatedAt": STAMP,
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/AgentRuntimeRole",
            "status": "READY",
        }
        if self.idle_timeout is not None:
            body["lifecycleConfiguration"] = {
                "idleRuntimeSessionTimeout": self.idle_timeout,
                "maxLifetime": 28800,
            }
        return body

    def _harness(self, request: web.Request) -> dict[str, Any]:
        harness_id = request.match_info["harnessId"]
        harness = {
            "harnessId": harness_id,
            "harnessName": harness_id.rsplit("-", 1)[0],
            "arn": f"{_ARN}:harness/{harness_id}",
            "status": self.harness_status,
            "harnessVersion": "3",
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/HarnessRole",
        }
        return {"harness": harness | STAMPS}

    def _endpoint(self, request: web.Request) -> dict[str, Any]:
        endpoint = {
            "harnessId": request.match_info["harnessId"],
            "endpointName": request.match_info["endpointName"],
            "status": self.endpoint_status,
            "liveVersion": "3",
        }
        return {"endpoint": endpoint | STAMPS}
