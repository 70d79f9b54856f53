"""An example ACTION_HANDLERS_MODULE: copy it into your own package and call your own API.

`lookupOrder` answers an action group whose executor is RETURN_CONTROL (Bedrock Agents then
sends a RESULT `returnControl` and waits for this bot's result).
"""

from __future__ import annotations

from bot.actions.registry import ActionCall, ActionHandlers


async def lookup_order(call: ActionCall) -> dict[str, str]:
    # A real handler calls the team's order API here, authorising `call.user_id` (from Slack,
    # never from the message text) — e.g. `await orders_api.get(order_id, on_behalf_of=...)`.
    order_id = call.parameters.get("orderId", "")
    return {"orderId": order_id, "status": "unknown (example handler: connect your order API)"}


def register_actions(handlers: ActionHandlers) -> None:
    handlers.register("lookupOrder", lookup_order)
