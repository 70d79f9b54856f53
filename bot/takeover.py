"""Crash takeover: a turn whose replica died (kill -9) is finished by another replica.

While a turn is answered, `TurnWatch` keeps a durable record of it in Redis (the question and
where its answer goes) and renews its lease (TURN_LEASE_SECONDS). Every replica's `Sweeper`
looks for records whose lease ran out, claims one atomically, cleans up what the dead replica
left in Slack — its open stream or message ("continued below"), the 👀 or "is thinking…" — and
answers the question again in the same thread, in a fresh agent session generation (the dead
invocation may still hold the old one) with the conversation's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import formatting
from bot.conversation import Turn
from bot.memory import Memory
from bot.slack_budget import WriteBudget
from bot.slack_calls import SlackCaller
from bot.slack_targets import SignOfLife, ThreadTarget

if TYPE_CHECKING:
    from bot.installations.workspaces import SpeakFor

log = logging.getLogger(__name__)

MAX_TAKEOVERS = 3  # a question that kills every replica trying it is given up, not retried
CONTINUED_NOTE = "\n\n_…interrupted here; continued below._"
Retake = Callable[[Turn, ThreadTarget, str], Awaitable[None]]


def encode(turn: Turn, target: ThreadTarget) -> str:
    """Pure: the record another replica needs to answer `turn` again into `target`."""
    turn_fields = dataclasses.asdict(turn) | {"attributes": dict(turn.attributes)}
    target_fields = dataclasses.asdict(target) | {"sign_of_life": target.sign_of_life.value}
    return json.dumps({"turn": turn_fields, "target": target_fields}, separators=(",", ":"))


def decode(payload: str) -> tuple[Turn, ThreadTarget]:
    """Pure: the inverse of `encode`, as a retake (no event id: the event is claimed already)."""
    raw = json.loads(payload)
    target_fields = raw["target"] | {
        "sign_of_life": SignOfLife(raw["target"]["sign_of_life"]),
        "loading_messages": tuple(raw["target"].get("loading_messages") or ()),  # JSON: a list
    }
    turn = Turn(**raw["turn"] | {"event_id": None, "message_key": None, "fresh_session": True})
    return turn, ThreadTarget(**target_fields)


def claims_of(turn: Turn) -> tuple[str, ...]:
    """Pure: the dedup claims a watched turn took "in progress" (bot/conversation.py)."""
    claims = (turn.event_id, f"message:{turn.message_key}" if turn.message_key else None)
    return tuple(claim for claim in claims if claim)


class TurnWatch:
    """The durable record of the turns this replica is answering, with their leases."""

    def __init__(self, memory: Memory) -> None:
        self._memory = memory

    @asynccontextmanager
    async def watch(
        self, turn: Turn, target: ThreadTarget, *, owner: str | None = None
    ) -> AsyncIterator[asyncio.Event]:
        """Record `turn` before its first Slack write; done only after its final write. The
        event is set when another replica took the turn over (this one must stop writing)."""
        inflight, owner = self._memory.inflight, owner or secrets.token_hex(8)
        lost = asyncio.Event()
        recorded = await inflight.begin(
            turn.conversation,
            turn.turn_id,
            payload=encode(turn, target),
            owner=owner,
            events=claims_of(turn),
        )
        if not recorded:
            yield lost
            return
        renewal = asyncio.create_task(self._renew(turn, owner, lost), name="turn-lease")
        try:
            yield lost
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            await inflight.finish(turn.conversation, turn.turn_id, owner=owner)

    async def _renew(self, turn: Turn, owner: str, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self._memory.lease_seconds / 3)
            renewed = await self._memory.inflight.renew(
                turn.conversation, turn.turn_id, owner=owner
            )
            if renewed is False:
                log.warning("this turn was taken over by another replica while it was answered")
                lost.set()
                return


@dataclasses.dataclass(kw_only=True, eq=False)
class Sweeper:
    """Finds turns whose replica died, and has them answered again here."""

    memory: Memory
    client: AsyncWebClient
    budget: WriteBudget
    retake: Retake
    speak_for: SpeakFor | None = None  # OAuth mode: the turn's own workspace client
    # Per team: each workspace has its own bot user.
    _bot_user_ids: dict[str, str] = dataclasses.field(default_factory=dict, init=False)
    _tasks: set[asyncio.Task[None]] = dataclasses.field(default_factory=set, init=False)

    async def run(self) -> None:
        """Sweep every third of a lease until cancelled."""
        while True:
            await asyncio.sleep(self.memory.lease_seconds / 3)
            try:
                await self.sweep()
            except Exception:  # the sweeper must outlive any single bad record
                log.exception("takeover sweep failed")

    async def sweep(self) -> None:
        for conversation, turn_id in await self.memory.inflight.overdue():
            owner = secrets.token_hex(8)
            claimed = await self.memory.inflight.claim(conversation, turn_id, owner=owner)
            if claimed is None:
                continue
            task = asyncio.create_task(self._take_over(claimed.payload, claimed.attempts, owner))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _take_over(self, payload: str, attempts: int, owner: str) -> None:
        turn, target = decode(payload)
        log.warning(
            "taking over a turn whose replica stopped answering",
            extra={"conversation": turn.conversation, "turn": turn.turn_id, "attempt": attempts},
        )
        async with self._speaking(turn) as able:
            if not able:  # uninstalled meanwhile: nobody may speak in that workspace any more
                await self.memory.inflight.finish(turn.conversation, turn.turn_id, owner=owner)
                return
            await self._clean_up(target)
            if attempts > MAX_TAKEOVERS:
                log.error("turn given up after repeated takeovers", extra={"turn": turn.turn_id})
                await self.memory.inflight.finish(turn.conversation, turn.turn_id, owner=owner)
                return
            await self.retake(turn, target, owner)

    def _speaking(self, turn: Turn) -> AbstractAsyncContextManager[bool]:
        """OAuth mode: no request carries a token here; use the turn's own workspace's."""
        if self.speak_for is None:
            return nullcontext(True)
        return self.speak_for(turn.team_id, turn.attributes.get("slackEnterpriseId"))

    async def _clean_up(self, target: ThreadTarget) -> None:
        """End what the dead replica left: its sign of life, its open stream or message."""
        slack = SlackCaller(client=self.client, budget=self.budget, team_id=target.team_id)
        if target.sign_of_life is SignOfLife.REACTION and target.question_ts:
            await slack.best_effort(
                "reactions.remove",
                channel=target.channel,
                timestamp=target.question_ts,
                name=formatting.SIGN_OF_LIFE_REACTION,
            )
        elif target.thread_ts:
            await slack.best_effort(
                "assistant.threads.setStatus",
                channel_id=target.channel,
                thread_ts=target.thread_ts,
                status="",
            )
        for message in await self._dead_messages(target):
            ts = str(message.get("ts"))
            if not await slack.best_effort(
                "chat.stopStream", channel=target.channel, ts=ts, markdown_text=CONTINUED_NOTE
            ):
                text = str(message.get("text") or "")
                await slack.best_effort(
                    "chat.update", channel=target.channel, ts=ts, text=text + CONTINUED_NOTE
                )

    async def _dead_messages(self, target: ThreadTarget) -> list[dict[str, Any]]:
        """The bot's messages after the question — in its thread, or at the top level for an
        answer posted there: what the dead replica wrote, also one it had not recorded."""
        if not target.question_ts:
            return []
        try:
            bot_user_id = self._bot_user_ids.get(target.team_id)
            if bot_user_id is None:
                bot_user_id = str((await self.client.auth_test()).get("user_id"))
                self._bot_user_ids[target.team_id] = bot_user_id
            if target.thread_ts:
                found = await self.client.conversations_replies(
                    channel=target.channel, ts=target.thread_ts, oldest=target.question_ts
                )
            else:  # the conversation's lock kept every other answer out of it meanwhile
                found = await self.client.conversations_history(
                    channel=target.channel, oldest=target.question_ts
                )
        except Exception as exc:  # clean-up is best effort; the new answer matters more
            log.warning(
                "could not read the thread to clean up", extra={"error": type(exc).__name__}
            )
            return []
        return dead_answers(found.get("messages") or [], bot_user_id=bot_user_id, target=target)


def dead_answers(
    messages: list[Any], *, bot_user_id: str, target: ThreadTarget
) -> list[dict[str, Any]]:
    """Pure: which of `messages` the dead replica wrote for this turn and left unclosed."""
    after = float(target.question_ts or 0)
    return [
        message
        for message in messages
        if isinstance(message, dict)
        and message.get("user") == bot_user_id
        and float(message.get("ts") or 0) > after
        and (target.thread_ts or message.get("thread_ts") in (None, message.get("ts")))
        and CONTINUED_NOTE.strip() not in str(message.get("text") or "")
    ]
