"""A scripted agent that shows every feature of the bot without AWS (`AGENT_BACKEND=demo`).

Any question gets a few sentences streamed over about two seconds, with one numbered source and
a progress step; a question that mentions "cancel" first asks to confirm cancelling an order
(an `ActionRequest` that needs a person's consent) and answers once resumed; "error" shows what
an answer that dies mid-way looks like. Answers are canned: nothing here pretends to know things.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.events import (
    ActionInput,
    ActionParameter,
    ActionRequest,
    AgentEvent,
    AgentFailure,
    AgentRequest,
    Citations,
    FailureKind,
    Progress,
    Source,
    StepStatus,
    TextDelta,
    Usage,
)

DEMO_ORDER_ID = "ORD-88421"
HANDBOOK = Source("Employee handbook (demo)", "https://example.com/handbook")
ORDERS = Source("Order system (demo)", "https://example.com/orders")
_ORDER_ID = re.compile(r"\b[A-Za-z]{2,5}-?[0-9]{3,12}\b")

_TOPICS = {
    "vacation": (
        "In this demo handbook, everyone gets **25 vacation days** a year [1]. Ask your manager "
        "at least two weeks ahead for longer breaks, and log the days in the HR portal:\n\n"
        "- up to 5 unused days carry over to next year\n"
        "- public holidays do not count against them\n\n"
        "This is the *demo agent* speaking: connect a real Bedrock agent for real answers."
    ),
    "expense": (
        "Expense reports go through the finance portal within **30 days** of the purchase [1]. "
        "Attach a photo of every receipt, pick the cost centre, and submit:\n\n"
        "1. open *Expenses → New report*\n"
        "2. add each receipt\n"
        "3. send it to your manager for approval\n\n"
        "This is the *demo agent* speaking: connect a real Bedrock agent for real answers."
    ),
}
_GENERIC = (
    "Here is what the demo handbook says about that [1]. The answer streams in as the agent "
    "writes it, with **Markdown** rendered the way Slack renders it, `code` included, and the "
    "source numbered below.\n\n"
    "- follow-ups in this thread need no new mention\n"
    "- 👍 / 👎 under the answer are recorded in `/metrics`\n\n"
    "Try asking me to *cancel order ORD-88421* to see a confirmation."
)


@dataclass(frozen=True, slots=True)
class DemoPacing:
    """How the demo streams: `chunks` pieces over roughly `seconds`."""

    seconds: float = 2.0
    chunks: int = 20


class DemoAgent:
    """An `AgentBackend` that needs nothing: canned answers, streamed like a real agent's."""

    def __init__(self, *, pacing: DemoPacing | None = None) -> None:
        self._pacing = pacing or DemoPacing()

    async def aclose(self) -> None:
        """Nothing to release."""

    async def stream(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        if request.resume:
            async for event in self._resumed(request):
                yield event
            return
        text = request.text.lower()
        order_id = _order_id(request)
        if "cancel" in text:
            yield Progress("orders", "Looking up the order", StepStatus.COMPLETE, (ORDERS,))
            yield _cancel_request(order_id)
            return
        async for event in self._answer(request, order_id):
            yield event

    async def _answer(
        self, request: AgentRequest, order_id: str | None
    ) -> AsyncIterator[AgentEvent]:
        text = request.text.lower()
        is_order = order_id is not None and "order" in text
        step = ("orders", "Looking up the order") if is_order else ("kb", "Searching the handbook")
        source = ORDERS if is_order else HANDBOOK
        yield Progress(step[0], step[1], StepStatus.IN_PROGRESS)
        await asyncio.sleep(self._pacing.seconds / self._pacing.chunks)
        yield Progress(step[0], step[1], StepStatus.COMPLETE, (source,))
        if is_order:
            answer = (
                f"Order **{order_id}** shipped yesterday and should arrive within 2 business days "
                "[1]. You can follow it with the tracking link in your confirmation e-mail.\n\n"
                "_Demo data: no order system was asked._"
            )
        else:
            answer = next((body for key, body in _TOPICS.items() if key in text), _GENERIC)
        failing = "error" in text
        if failing:
            answer = answer[: len(answer) // 3]
        async for delta in self._typed(answer):
            yield delta
        if failing:
            yield AgentFailure(
                FailureKind.INTERRUPTED, "demo_error", "the demo agent was asked to fail"
            )
            return
        yield Citations((source,))
        yield Usage(input_tokens=len(request.text) // 4 + 200, output_tokens=len(answer) // 4)

    async def _resumed(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        result = request.resume[0]
        order_id = next(
            (p.value for p in result.input.parameters if p.name == "orderId"), DEMO_ORDER_ID
        )
        if result.confirmed:
            yield Progress("cancel", f"Cancelling {order_id}", StepStatus.COMPLETE, (ORDERS,))
            answer = (
                f"Done: order **{order_id}** is cancelled [1], and the refund reaches your card "
                "in 5–7 business days.\n\n_Demo data: no order was really cancelled._"
            )
            sources: tuple[Source, ...] = (ORDERS,)
        else:
            answer = f"OK, I left order **{order_id}** as it is. Nothing was cancelled."
            sources = ()
        async for delta in self._typed(answer):
            yield delta
        if sources:
            yield Citations(sources)

    async def _typed(self, answer: str) -> AsyncIterator[TextDelta]:
        """The answer in `chunks` pieces, spread over the pacing's seconds."""
        size = max(1, -(-len(answer) // self._pacing.chunks))
        pause = self._pacing.seconds / self._pacing.chunks
        for start in range(0, len(answer), size):
            await asyncio.sleep(pause)
            yield TextDelta(answer[start : start + size])


def _order_id(request: AgentRequest) -> str | None:
    """The order the question is about: Slack's `orderId` attribute first, then the text."""
    given = request.session_attributes.get("orderId")
    if given:
        return given
    found = _ORDER_ID.search(request.text)
    return found.group(0).upper() if found else None


def _cancel_request(order_id: str | None) -> ActionRequest:
    order = order_id or DEMO_ORDER_ID
    action = ActionInput(
        kind="function",
        action_group="orders",
        name="cancel_order",
        parameters=(ActionParameter("orderId", order),),
        needs_confirmation=True,
        reason=f"Cancel order {order}?",
    )
    return ActionRequest(invocation_id=f"demo-{secrets.token_hex(6)}", inputs=(action,))
