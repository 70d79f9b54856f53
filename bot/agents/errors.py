"""The one place AWS errors become failure kinds (the user-facing words live in formatting)."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from bot.events import AgentFailure, FailureKind

# Keys are lower-cased: initial errors say "ThrottlingException", in-stream ones
# "throttlingException" (EventStreamError), AgentCore sometimes omits the suffix.
_KINDS: dict[str, FailureKind] = {
    "throttlingexception": FailureKind.THROTTLED,
    "throttling": FailureKind.THROTTLED,
    "servicequotaexceededexception": FailureKind.THROTTLED,
    "toomanyrequestsexception": FailureKind.THROTTLED,
    "validationexception": FailureKind.INVALID_INPUT,
    "accessdeniedexception": FailureKind.MISCONFIGURED,
    "resourcenotfoundexception": FailureKind.MISCONFIGURED,
    "unrecognizedclientexception": FailureKind.MISCONFIGURED,
    "invalidsignatureexception": FailureKind.MISCONFIGURED,
    "expiredtokenexception": FailureKind.MISCONFIGURED,
    "conflictexception": FailureKind.CONFLICT,
    "dependencyfailedexception": FailureKind.UNAVAILABLE,
    "badgatewayexception": FailureKind.UNAVAILABLE,
    "internalserverexception": FailureKind.UNAVAILABLE,
    "modelnotreadyexception": FailureKind.UNAVAILABLE,
    "serviceunavailableexception": FailureKind.UNAVAILABLE,
    "runtimeclienterror": FailureKind.UNAVAILABLE,
}


def failure_kind(code: str) -> FailureKind:
    return _KINDS.get(code.lower(), FailureKind.UNKNOWN)


def failure_from_exception(exc: BaseException) -> AgentFailure:
    """Classify a boto3/botocore exception; `detail` is for logs, never shown to users."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        kind = failure_kind(code)
        if kind is FailureKind.UNKNOWN:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            kind = FailureKind.UNAVAILABLE if int(status) >= 500 else kind
        return AgentFailure(kind, code, str(error.get("Message") or "")[:500])
    if isinstance(exc, NoCredentialsError | NoRegionError):
        return AgentFailure(FailureKind.MISCONFIGURED, type(exc).__name__, str(exc))
    if isinstance(exc, ReadTimeoutError):
        return AgentFailure(FailureKind.TIMEOUT, "ReadTimeout", str(exc))
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return AgentFailure(FailureKind.UNAVAILABLE, type(exc).__name__, str(exc))
    if isinstance(exc, BotoCoreError):
        return AgentFailure(FailureKind.UNKNOWN, type(exc).__name__, str(exc))
    return AgentFailure(FailureKind.UNKNOWN, type(exc).__name__, str(exc)[:500])
