"""Pure: the one mapping from whatever a Slack Web API call raised to what to do about it.

Slack's edge answers 500/502/503 with an HTML page, proxies answer with empty or truncated
bodies, and slack_sdk then raises more than SlackApiError: for a JSON body it cannot decode it
raises SlackApiError around an *aiohttp* response (no `status_code`, no `.get`), and for a
`text/plain` or empty body its own `validate()` fails with AttributeError. So nothing here
assumes a shape: every exception becomes a `SlackFailure`, and the caller decides from that
alone whether to wait, retry, repair or give up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

# Slack's own error codes that mean "try again later" (the rest are refusals for good).
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


@dataclass(frozen=True, slots=True)
class SlackFailure:
    """What went wrong with one Slack call, whatever the body looked like.

    `uncertain`: Slack gave no readable answer, so it may have applied the write (matters for
    appends, which must never be sent twice). `retry_after` is set for a 429 only.
    """

    error: str
    status: int | None = None
    transient: bool = False
    uncertain: bool = False
    retry_after: float | None = None

    @property
    def rate_limited(self) -> bool:
        return self.retry_after is not None


def classify(exc: BaseException) -> SlackFailure:
    """Map any exception a Slack call raised (never raises itself)."""
    if not isinstance(exc, SlackApiError):
        # Connection errors, timeouts, and the SDK tripping over a body it did not expect.
        return SlackFailure(type(exc).__name__, transient=True, uncertain=True)
    response = exc.response
    status = _status_of(response)
    if status == 429:
        return SlackFailure("ratelimited", 429, transient=True, retry_after=retry_after(response))
    error = _slack_error(response)
    if error is not None:  # Slack's own JSON answer: {"ok": false, "error": "..."}
        transient = error in TRANSIENT_ERRORS or (status is not None and status >= 500)
        return SlackFailure(error, status, transient=transient)
    # No readable answer (an HTML page, an empty or cut-off body): a hiccup of Slack's edge,
    # unless it is a 4xx page (a proxy refusing us, a wrong SLACK_API_URL).
    transient = status is None or status >= 500 or status < 400
    return SlackFailure(f"http_{status}" if status else "bad_response", status, transient, True)


def unreadable(method: str) -> SlackFailure:
    """An ok answer that lacks what the method always returns (a cut-off body)."""
    return SlackFailure(f"{method}: incomplete_response", 200, transient=True, uncertain=True)


def retry_after(response: Any) -> float:
    """Seconds from a Retry-After header; 1 when it is missing or not a number."""
    headers = getattr(response, "headers", None)
    try:
        value = (
            (headers.get("Retry-After") or headers.get("retry-after"))
            if isinstance(headers, Mapping)
            else None
        )
        seconds = float(value) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
    return seconds if 0 <= seconds < 3600 else 1.0  # NaN and absurd values count as missing


def _status_of(response: Any) -> int | None:
    # AsyncSlackResponse has `status_code`; the aiohttp response slack_sdk sometimes wraps, `status`.
    for name in ("status_code", "status"):
        value = getattr(response, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _slack_error(response: Any) -> str | None:
    data = getattr(response, "data", None)
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, str) and error:
            return error
    return None
