"""One Slack Web API call with the retry rules answers need: Retry-After, bounded retries."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_budget import WriteBudget

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
FINAL_ATTEMPTS = 4
_BACKOFF = 0.25


APPENDS = frozenset({"chat.appendStream"})


class SlackWriteError(Exception):
    """Slack refused a write for good (not a 429 or a hiccup)."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


class UncertainWrite(SlackWriteError):
    """The connection broke mid-call: Slack may or may not have applied the write."""


class SlackCaller:
    """Calls for one answer in one workspace, sharing the process-wide write budget."""

    def __init__(self, *, client: AsyncWebClient, budget: WriteBudget, team_id: str) -> None:
        self._client = client
        self._budget = budget
        self._team_id = team_id
        # 429s in a row per method for this answer: a method that keeps refusing is "sustained".
        self.refusals: dict[str, int] = {}
        self.deferred: str | None = None  # the method whose Retry-After deferred the last write

    def blocked_for(self, method: str) -> float:
        """Seconds until Slack's Retry-After for `method` has passed in this workspace."""
        return self._budget.blocked_for(self._team_id, method)

    async def call(self, method: str, *, final: bool, **args: Any) -> dict[str, Any] | None:
        """Make the call. Returns None when an intermediate write was deferred (429 or a
        transient error: the next write carries the same text); a final write waits and retries
        instead. Raises SlackWriteError when Slack refuses for good."""
        body = {key: value for key, value in args.items() if value is not None}
        attempt = 0
        while True:
            await self._budget.refresh(self._team_id, method)
            if not final and not self._budget.may_send(self._team_id, method):
                self.deferred = method
                return None  # Slack asked us to wait: this text goes out with a later write
            await self._budget.wait_turn(self._team_id, method)
            try:
                response = await self._client.api_call(method, json=body)
                self.refusals.pop(method, None)
                self.deferred = None
                self._budget.accepted(self._team_id, method)
                return dict(response.data) if isinstance(response.data, dict) else {}
            except SlackApiError as exc:
                status = exc.response.status_code
                error = str(exc.response.get("error") or f"http_{status}")
                if status == 429:
                    retry_after = _retry_after(exc.response.headers)
                    self.refusals[method] = self.refusals.get(method, 0) + 1
                    self._budget.rate_limited_by_slack(
                        self._team_id, method, retry_after, answer=id(self)
                    )
                    log.info(
                        "slack rate limited", extra={"method": method, "retry_after": retry_after}
                    )
                    if final:
                        continue
                    self.deferred = method
                    return None
                if error not in TRANSIENT_ERRORS and status < 500:
                    raise SlackWriteError(method, error) from None
                failure = error
            except (aiohttp.ClientError, TimeoutError) as exc:
                if method in APPENDS:
                    # Slack may have applied it before the connection broke: sending the same
                    # delta again could show it twice. The caller repairs the message instead.
                    raise UncertainWrite(method, type(exc).__name__) from None
                failure = type(exc).__name__
            attempt += 1
            log.warning(
                "slack call failed",
                extra={"method": method, "slack_error": failure, "attempt": attempt},
            )
            if not final:
                self.deferred = None  # a hiccup, not a limit: the next write comes at the pace
                return None
            if attempt >= FINAL_ATTEMPTS:
                raise SlackWriteError(method, failure)
            await asyncio.sleep(_BACKOFF * 2**attempt)

    async def clean_up(self, method: str, **args: Any) -> bool:
        """Remove a sign of life: waits out Retry-After and retries like a final write, since
        a reaction or status left behind is wrong; never raises."""
        try:
            return await self.call(method, final=True, **args) is not None
        except SlackWriteError as exc:  # no_reaction and the like: nothing left to remove
            log.info("clean-up call failed", extra={"method": method, "error": exc.error})
            return False

    async def best_effort(self, method: str, **args: Any) -> bool:
        """For reactions and statuses: one try, never raises, True when Slack accepted it.
        Skipped while Slack has this method rate-limited (a sign of life is not worth a 429)."""
        if self._budget.blocked_for(self._team_id, method) > 0:
            return False
        try:
            await self._client.api_call(
                method, json={k: v for k, v in args.items() if v is not None}
            )
            return True
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                retry_after = _retry_after(exc.response.headers)
                self._budget.rate_limited_by_slack(self._team_id, method, retry_after)
            error = _error_of(exc)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = _error_of(exc)
        log.info("best-effort slack call failed", extra={"method": method, "error": error})
        return False


def _retry_after(headers: Any) -> float:
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return float(value) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def _error_of(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__
