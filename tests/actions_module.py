"""An ACTION_HANDLERS_MODULE for the tests: what a team's own module looks like."""

from __future__ import annotations

from bot.actions.registry import ActionCall, ActionHandlers

CALLS: list[ActionCall] = []


async def lookup_order(call: ActionCall) -> dict[str, str]:
    CALLS.append(call)
    return {"orderId": call.parameters.get("orderId", ""), "status": "shipped"}


def refund(call: ActionCall) -> str:  # plain functions work too
    CALLS.append(call)
    return f"refunded {call.body.get('amount')} on {call.parameters.get('orderId')}"


async def explode(call: ActionCall) -> str:
    raise RuntimeError("database password is hunter2")


def register_actions(handlers: ActionHandlers) -> None:
    handlers.register("lookupOrder", lookup_order)
    handlers.register("POST /orders/{orderId}/refund", refund, action_group="payments")
    handlers.register("explode", explode)
