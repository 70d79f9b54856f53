"""One Slack Web API call with the retry rules answers need: Retry-After, bounded retries,
one deadline per answer. What a failure means comes from bot.slack_errors, whatever its body."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any, NoReturn

from slack_sdk.web.async_client import AsyncWebClient

from bot import formatting
from bot.limits import (
    CLEAN_UP_SECONDS,
    FINAL_ATTEMPTS,
    FINAL_WRITE_DEADLINE_SECONDS,
    LATE_CLEAN_UP_SECONDS,
)
from bot.slack_budget import WriteBudget
from bot.slack_errors import SlackFailure, classify, unreadable

log = logging.getLogger(__name__)

_BACKOFF = 0.25
_MAX_BACKOFF = 4.0
# Methods whose ok answer always carries these: without them the body was cut off.
_REQUIRED = {"chat.postMessage": "ts", "chat.startStream": "ts"}


APPENDS = frozenset({"chat.appendStream"})
# Slack limits these per channel ("1 per second per channel", docs.slack.dev chat.postMessage),
# the others per workspace: a 429 in one channel does not hold back posts to another.
PER_CHANNEL = frozenset({"chat.postMessage"})


class SlackWriteError(Exception):
    """Slack refused a write for good (not a 429 or a hiccup)."""

    def __init__(self, method: str, error: str, *, reference: str | None = None) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.reference = reference  # set when the answer is given up: it is in the logs too


class UncertainWrite(SlackWriteError):
    """The connection broke mid-call: Slack may or may not have applied the write."""


class SlackCaller:
    """Calls for one answer in one workspace, sharing the process-wide write budget.

    Final writes retry (429s as long as Slack asks, hiccups `FINAL_ATTEMPTS` times), but once
    the answer is `ending` its final writes share one deadline: past it the answer is logged as
    undelivered with a reference, so the conversation's lock and sign of life are released.
    """

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        budget: WriteBudget,
        team_id: str,
        final_write_deadline: float = FINAL_WRITE_DEADLINE_SECONDS,
    ) -> None:
        self._client = client
        self._budget = budget
        self._team_id = team_id
        self._final_write_deadline = final_write_deadline
        self._final_since: float | None = None
        # 429s in a row per method for this answer: a method that keeps refusing is "sustained".
        self.refusals: dict[str, int] = {}
        self.deferred: str | None = None  # the method whose Retry-After deferred the last write

    def blocked_for(self, method: str, channel: str | None = None) -> float:
        """Seconds until Slack's Retry-After for `method` has passed in this workspace (or,
        for a per-channel method, in `channel`)."""
        return self._budget.blocked_for(self._scope(method, channel), method)

    def _scope(self, method: str, channel: Any) -> str:
        """What Slack counts `method`'s calls by: the workspace, or one of its channels."""
        if method in PER_CHANNEL and isinstance(channel, str):
            return f"{self._team_id}:{channel}"
        return self._team_id

    async def call(self, method: str, *, final: bool, **args: Any) -> dict[str, Any] | None:
        """Make the call. Returns None when an intermediate write was deferred (429 or a
        transient error: the next write carries the same text); a final write waits and retries
        instead. Raises SlackWriteError when Slack refuses for good or the deadline passed."""
        deadline = self._deadline() if final else None
        return await self._call(method, deadline, {k: v for k, v in args.items() if v is not None})

    def ending(self) -> None:
        """The answer is complete: from now on its final writes share one deadline. (Before,
        e.g. closing the first message of a long answer, each final write has its own.)"""
        self._final_since = time.monotonic()

    def _deadline(self) -> float:
        since = self._final_since if self._final_since is not None else time.monotonic()
        return since + self._final_write_deadline

    async def _call(
        self, method: str, deadline: float | None, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        final, attempt = deadline is not None, 0
        scope = self._scope(method, body.get("channel"))
        while True:
            await self._budget.refresh(scope, method)
            if deadline is None and not self._budget.may_send(scope, method):
                self.deferred = method
                return None  # Slack asked us to wait: this text goes out with a later write
            async with self._turn(scope, method, deadline):
                failure = await self._send(scope, method, body)
            if isinstance(failure, dict):
                return failure  # Slack's answer
            if failure.retry_after is not None:
                self._rate_limited(scope, method, failure.retry_after)
                if final:
                    continue
                self.deferred = method
                return None
            if not failure.transient:
                raise SlackWriteError(method, failure.error)
            if failure.uncertain and method in APPENDS:
                # Slack may have applied it before the answer was lost: sending the same delta
                # again could show it twice. The caller repairs the message instead.
                raise UncertainWrite(method, failure.error)
            attempt += 1
            log.warning(
                "slack call failed",
                extra={"method": method, "slack_error": failure.error, "attempt": attempt},
            )
            if deadline is None:
                self.deferred = None  # a hiccup, not a limit: the next write comes at the pace
                return None
            if attempt >= FINAL_ATTEMPTS:
                raise SlackWriteError(method, failure.error)
            await self._sleep_until(deadline, method, _backoff(attempt))

    async def _send(
        self, scope: str, method: str, body: dict[str, Any]
    ) -> dict[str, Any] | SlackFailure:
        """One request: Slack's complete answer, or what went wrong."""
        try:
            response = await self._client.api_call(method, json=body)
        except Exception as exc:  # any body, any SDK hiccup: classified, never escapes raw
            return classify(exc)
        data = response.data if isinstance(response.data, dict) else None
        if data is None or not _complete(method, data):
            return unreadable(method)
        self.refusals.pop(method, None)
        self.deferred = None
        self._budget.accepted(scope, method)
        return dict(data)

    def _rate_limited(self, scope: str, method: str, retry_after: float) -> None:
        self.refusals[method] = self.refusals.get(method, 0) + 1
        self._budget.rate_limited_by_slack(scope, method, retry_after, answer=id(self))
        log.info("slack rate limited", extra={"method": method, "retry_after": retry_after})

    @contextlib.asynccontextmanager
    async def _turn(self, scope: str, method: str, deadline: float | None) -> AsyncIterator[None]:
        """Wait until this call may go: past Retry-After, and — a final write to a method Slack
        refused lately — after the final writes queued before it (one at a time, in order)."""
        if deadline is None:  # an intermediate write: `may_send` already said yes
            yield
            return
        queue = self._budget.queue(scope, method)
        held = False
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                if queue is not None:
                    await queue.acquire()
                    held = True
                await self._budget.wait_turn(scope, method)
        except TimeoutError:
            if held and queue is not None:
                queue.release()
            self._give_up(method)
        try:
            yield
        finally:
            if held and queue is not None:
                queue.release()

    async def _sleep_until(self, deadline: float, method: str, seconds: float) -> None:
        if time.monotonic() + seconds >= deadline:
            self._give_up(method)
        await asyncio.sleep(seconds)

    def _give_up(self, method: str) -> NoReturn:
        reference = formatting.new_reference()
        log.error(
            "final write deadline passed: answer not delivered",
            extra={
                "reference": reference,
                "method": method,
                "deadline_s": self._final_write_deadline,
            },
        )
        raise SlackWriteError(method, "deadline_exceeded", reference=reference)

    async def clean_up(self, method: str, **args: Any) -> bool:
        """Remove a sign of life: waits out Retry-After and retries like a final write, since
        a reaction or status left behind is wrong; never raises. Gets `CLEAN_UP_SECONDS` even
        when the answer's deadline has passed."""
        deadline = max(self._deadline(), time.monotonic() + CLEAN_UP_SECONDS)
        try:
            body = {key: value for key, value in args.items() if value is not None}
            return await self._call(method, deadline, body) is not None
        except SlackWriteError as exc:  # no_reaction and the like: nothing left to remove
            log.info("clean-up call failed", extra={"method": method, "error": exc.error})
            return False

    def clean_up_later(self, method: str, **args: Any) -> None:
        """`clean_up` in the background, waiting as long as Slack's limits ask (up to
        `LATE_CLEAN_UP_SECONDS`): for what no longer holds the answer up — a placeholder the
        complete answer was posted below — when a crowd of answers has spent the budget."""
        body = {key: value for key, value in args.items() if value is not None}
        self._budget.keep(asyncio.create_task(self._late(method, body)))

    async def _late(self, method: str, body: dict[str, Any]) -> None:
        try:
            await self._call(method, time.monotonic() + LATE_CLEAN_UP_SECONDS, body)
        except SlackWriteError as exc:
            log.warning("late clean-up failed", extra={"method": method, "error": exc.error})

    async def best_effort(self, method: str, **args: Any) -> bool:
        """For reactions and statuses: one try, never raises, True when Slack accepted it."""
        return await self.try_once(method, **args) is not None

    async def try_once(self, method: str, **args: Any) -> dict[str, Any] | None:
        """One try for a sign of life, never raises: Slack's answer, or None. Skipped while
        Slack has this method rate-limited here (a sign of life is not worth a 429)."""
        scope = self._scope(method, args.get("channel"))
        if self._budget.blocked_for(scope, method) > 0:
            return None
        body = {key: value for key, value in args.items() if value is not None}
        try:
            response = await self._client.api_call(method, json=body)
        except Exception as exc:  # whatever Slack's edge answered: logged, never raised
            failure = classify(exc)
        else:
            data = response.data if isinstance(response.data, dict) else None
            if data is not None and _complete(method, data):
                return dict(data)
            failure = unreadable(method)
        if failure.retry_after is not None:
            self._budget.rate_limited_by_slack(scope, method, failure.retry_after)
        log.info("best-effort slack call failed", extra={"method": method, "error": failure.error})
        return None


def _complete(method: str, data: dict[str, Any]) -> bool:
    """An ok answer has what its method always returns (a `ts` for posts and stream starts);
    one without it was cut off on the way and cannot be used."""
    required = _REQUIRED.get(method)
    return required is None or isinstance(data.get(required), str)


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter, so answers that failed together retry apart."""
    delay: float = min(_MAX_BACKOFF, _BACKOFF * 2**attempt)
    return delay * random.uniform(0.5, 1.0)
