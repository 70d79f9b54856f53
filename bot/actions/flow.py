"""The executor of "agents that act": shows a pause in Slack, takes the asker's clicks, and
hands the pipeline what goes back to the agent. Decisions are in `logic`, state in `store`."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import formatting
from bot.actions import logic
from bot.actions.asking import Resumable as Resumable
from bot.actions.asking import Sink, pending_for, place_of
from bot.actions.expiry import Confirmations, Expiry
from bot.actions.receipts import show
from bot.actions.record import Asked as Asked
from bot.actions.registry import ActionCall, ActionHandlers
from bot.actions.store import Claim, PendingStore, Stored
from bot.events import ActionInput, ActionRequest, ActionResult
from bot.logs import turn_id_var
from bot.metrics import Metrics

if TYPE_CHECKING:
    from bot.installations.workspaces import SpeakFor

log = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]


class ActionFlow:
    """One per process; every replica can take any click (the state is in Redis)."""

    def __init__(
        self,
        *,
        store: PendingStore,
        handlers: ActionHandlers,
        metrics: Metrics,
        client: AsyncWebClient,
        timeout_seconds: float,
        speak_for: SpeakFor | None = None,
    ) -> None:
        self._parts = Confirmations(store, metrics, client)
        self._handlers = handlers
        self._timeout = timeout_seconds
        self._expiry = Expiry(self._parts, every=timeout_seconds, speak_for=speak_for)

    def start(self) -> None:
        self._expiry.start()

    async def close(self) -> None:
        await self._expiry.close()

    async def local_results(
        self, asked: Asked, request: ActionRequest
    ) -> tuple[ActionResult, ...] | None:
        """Results for a pause no person needs to answer (RESULT only); None if one must."""
        if logic.needs_person(request):
            return None
        handled = await self._run_handlers(asked, request, {})
        return logic.results(request, {}, handled)

    async def ask(
        self,
        asked: Asked,
        sink: Sink,
        request: ActionRequest,
        *,
        session_id: str,
        generation: int,
        shown_text: str,
        prior_text: str,
    ) -> bool:
        """Show the question in the answer's place and remember it; False if it could not be."""
        now = time.time()
        pending = pending_for(
            asked,
            place_of(sink, team_id=asked.team_id, channel_id=asked.channel_id),
            request,
            expires_at=now + self._timeout,
            session_id=session_id,
            generation=generation,
            shown_text=shown_text,
            prior_text=prior_text,
        )
        if not pending.place.kind or not await self._parts.store.save(pending, now=now):
            await _not_held(sink, request, shown_text)
            return False
        self._expiry.schedule(pending)  # before it shows: a click may come at once
        blocks = logic.question_blocks(
            request,
            conversation=pending.asked.conversation,
            pending_id=pending.pending_id,
            asker=pending.asked.asker,
        )
        delivered = await sink.end(
            suffix=_separator(shown_text) + logic.HEADLINE_MARKDOWN, blocks=blocks
        )
        if not delivered:  # Slack refused it: nobody can click, so it simply expires
            log.error("confirmation could not be shown", extra={"pending_id": pending.pending_id})
        message_ts = getattr(sink, "message_ts", None)
        if isinstance(message_ts, list) and message_ts:
            await self._parts.store.shown_at(
                pending.asked.conversation, pending.pending_id, message_ts[-1]
            )
        self._parts.metrics.confirmations.labels(outcome="shown").inc()
        _log_shown(request, pending.pending_id)
        return True

    async def click(
        self,
        click: logic.Click,
        *,
        user: str,
        respond: Respond,
        response_url: str | None,
        message_ts: str | None,
    ) -> Resumable | None:
        """Take one button press; a Resumable when it answered the last open question."""
        stored = await self._parts.store.load(click.conversation, click.pending_id)
        if stored is Claim.UNAVAILABLE:
            await self._unavailable(respond, {"pending_id": click.pending_id})
            return None
        if not isinstance(stored, Stored):
            await _tell(respond, logic.EXPIRED_NOTE)  # long gone (its key outlives expiry a day)
            return None
        pending = stored.pending
        token = turn_id_var.set(pending.asked.turn_id)  # this click's logs join the paused turn's
        try:
            return await self._take(click, stored, user, respond, response_url, message_ts)
        finally:
            turn_id_var.reset(token)

    async def _take(
        self,
        click: logic.Click,
        stored: Stored,
        user: str,
        respond: Respond,
        response_url: str | None,
        message_ts: str | None,
    ) -> Resumable | None:
        pending = stored.pending
        extra = {"invocation_id": pending.request.invocation_id, "pending_id": pending.pending_id}
        if user != pending.asked.asker:
            log.info("confirmation click by someone else ignored", extra=extra)
            await _tell(respond, logic.ONLY_ASKER.format(asker=pending.asked.asker))
            return None
        claim = await self._parts.store.claim(
            click.conversation,
            click.pending_id,
            index=click.index,
            choice=click.choice,
            now=time.time(),
        )
        log.info("confirmation click", extra={**extra, "claim": claim.value})
        if claim is Claim.UNAVAILABLE:
            await self._unavailable(respond, extra)
            return None
        if claim in (Claim.EXPIRED, Claim.EXPIRED_NOW):
            await self._too_late(claim, click, stored, respond, response_url, message_ts)
            return None
        if claim not in (Claim.RECORDED, Claim.COMPLETE):
            return None  # a double click, or a click another replica already took
        self._count(pending.request.inputs[click.index], click.choice)
        latest = await self._parts.store.load(click.conversation, click.pending_id)
        latest = latest if isinstance(latest, Stored) else stored
        await show(
            self._parts.client, latest, expired=False, response_url=response_url, ts=message_ts
        )
        if claim is not Claim.COMPLETE:
            return None
        await self._parts.store.forget(click.conversation, click.pending_id)
        return await self._resumable(latest)

    async def _too_late(
        self,
        claim: Claim,
        click: logic.Click,
        stored: Stored,
        respond: Respond,
        response_url: str | None,
        message_ts: str | None,
    ) -> None:
        """A click after the time was up; the one that found it so marks the message expired."""
        if claim is Claim.EXPIRED_NOW:
            await self._parts.store.forget(click.conversation, click.pending_id)
            self._parts.metrics.confirmations.labels(outcome="expired").inc()
            await show(
                self._parts.client, stored, expired=True, response_url=response_url, ts=message_ts
            )
        await _tell(respond, logic.EXPIRED_NOTE)

    async def _unavailable(self, respond: Respond, extra: Mapping[str, str]) -> None:
        reference = formatting.new_reference()
        log.error("confirmation click not recorded", extra={**extra, "reference": reference})
        await _tell(respond, logic.UNAVAILABLE.format(reference=reference))

    async def _resumable(self, stored: Stored) -> Resumable:
        pending = stored.pending
        handled = await self._run_handlers(pending.asked, pending.request, stored.answers)
        results = logic.results(pending.request, stored.answers, handled)
        resume = logic.Resume(
            pending.session_id,
            pending.generation,
            results,
            pending.prior_text,
            pending.request.invocation_id,
        )
        return Resumable(pending, resume)

    def _count(self, item: ActionInput, choice: int) -> None:
        options = logic.choices(item)
        confirmed = options[min(choice, len(options) - 1)].confirmed
        outcome = {True: "confirmed", False: "denied", None: "answered"}[confirmed]
        self._parts.metrics.confirmations.labels(outcome=outcome).inc()

    async def _run_handlers(
        self, asked: Asked, request: ActionRequest, answers: Mapping[int, int]
    ) -> dict[int, tuple[str, bool]]:
        handled: dict[int, tuple[str, bool]] = {}
        for index, item in enumerate(request.inputs):
            if logic.runs_locally(item, answers.get(index)):
                handled[index] = await self._handlers.run(item, _call(asked, item))
        return handled


def _call(asked: Asked, item: ActionInput) -> ActionCall:
    body_names = item.raw.get("body") if isinstance(item.raw.get("body"), Mapping) else {}
    parameters = {p.name: p.value for p in item.parameters if p.name not in (body_names or {})}
    body = {p.name: p.value for p in item.parameters if p.name in (body_names or {})}
    return ActionCall(
        action_group=item.action_group,
        name=item.name,
        parameters=parameters,
        body=body,
        user_id=asked.asker,
        team_id=asked.team_id,
        channel_id=asked.channel_id,
    )


def _separator(shown_text: str) -> str:
    return "\n\n" if shown_text.strip() else ""


async def _tell(respond: Respond, text: str) -> None:
    """An ephemeral note to the clicker only; the message itself stays as it is."""
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # a note that cannot be shown is not worth failing the click
        log.warning("could not send a note to the clicker", extra={"error": type(exc).__name__})


async def _not_held(sink: Sink, request: ActionRequest, shown_text: str) -> None:
    """The question could not be held (no place, or the store refused): said, with a reference."""
    reference = formatting.new_reference()
    log.error(
        "could not hold a confirmation",
        extra={"reference": reference, "invocation_id": request.invocation_id},
    )
    await sink.end(suffix=_separator(shown_text) + logic.NO_PLACE.format(reference=reference))


def _log_shown(request: ActionRequest, pending_id: str) -> None:
    log.info(
        "confirmation shown",
        extra={
            "invocation_id": request.invocation_id,
            "pending_id": pending_id,
            "inputs": len(request.inputs),
            "actions": [f"{i.kind}:{i.action_group}/{i.name}" for i in request.inputs],
        },
    )
