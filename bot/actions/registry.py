"""Local action handlers: the caller's side of Bedrock Agents `RESULT` return of control.

An action group whose executor is RETURN_CONTROL asks the caller to run the function (or API
operation) and send the result back. Teams register a Python callable per function name or
"METHOD /path" in a module of their own, named by ACTION_HANDLERS_MODULE::

    # my_actions.py
    from bot.actions.registry import ActionCall, ActionHandlers

    async def lookup_order(call: ActionCall) -> dict[str, str]:
        return await my_api.order(call.parameters["orderId"], user=call.user_id)

    def register_actions(handlers: ActionHandlers) -> None:
        handlers.register("lookupOrder", lookup_order)
        handlers.register("GET /orders/{orderId}", lookup_order, action_group="orders")

A handler's return value (a string, or anything JSON can encode) goes back as the result's
body. No handler, or a handler that raises or takes too long, sends a FAILURE result with a
short reason, so the agent can tell the person instead of answering nothing.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot import formatting
from bot.events import ActionInput
from bot.limits import HANDLER_TIMEOUT_SECONDS
from bot.settings import ConfigError

log = logging.getLogger(__name__)

NO_HANDLER = "This action is not available in this Slack app (no handler is registered for it)."
HANDLER_FAILED = "The action failed while running (reference {reference})."
HANDLER_TIMED_OUT = "The action took too long and was given up."


@dataclass(frozen=True, slots=True)
class ActionCall:
    """What a handler gets: the action, its parameters, and who asked (from Slack, not text)."""

    action_group: str
    name: str  # the function, or "METHOD /path"
    parameters: Mapping[str, str]
    body: Mapping[str, str] = field(default_factory=dict)  # API request-body properties
    user_id: str = ""
    team_id: str = ""
    channel_id: str = ""


Handler = Callable[[ActionCall], Awaitable[Any] | Any]


class ActionHandlers:
    """The registry: one handler per (action group, name); action group "*" matches any."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], Handler] = {}

    def register(self, name: str, handler: Handler, *, action_group: str = "*") -> None:
        self._handlers[(action_group, name)] = handler

    def find(self, action_group: str, name: str) -> Handler | None:
        return self._handlers.get((action_group, name)) or self._handlers.get(("*", name))

    def __len__(self) -> int:
        return len(self._handlers)

    async def run(self, item: ActionInput, call: ActionCall) -> tuple[str, bool]:
        """(body, failed) for one input; never raises."""
        handler = self.find(item.action_group, item.name)
        extra = {"action_group": item.action_group, "action": item.name}
        if handler is None:
            log.warning("no action handler registered", extra=extra)
            return NO_HANDLER, True
        try:
            async with asyncio.timeout(HANDLER_TIMEOUT_SECONDS):
                if inspect.iscoroutinefunction(handler):
                    outcome = await handler(call)
                else:  # a plain function may block (an HTTP call): never on the event loop
                    outcome = await asyncio.to_thread(handler, call)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
        except TimeoutError:
            log.error("action handler timed out", extra=extra)
            return HANDLER_TIMED_OUT, True
        except Exception:
            reference = formatting.new_reference()
            log.exception("action handler failed", extra={**extra, "reference": reference})
            return HANDLER_FAILED.format(reference=reference), True
        log.info("action handler ran", extra=extra)
        if isinstance(outcome, str):
            return outcome, False
        return json.dumps(outcome, ensure_ascii=False, default=str), False


class HandlersModuleError(ConfigError):
    """ACTION_HANDLERS_MODULE could not be loaded; the message is one line naming it."""


def load_handlers(module_path: str | None) -> ActionHandlers:
    """The registry filled by `register_actions(handlers)` of `module_path` (None: empty)."""
    handlers = ActionHandlers()
    if not module_path:
        return handlers
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:
        raise HandlersModuleError(
            f"configuration error: ACTION_HANDLERS_MODULE {module_path!r} could not be imported "
            f"({type(exc).__name__}: {exc})"
        ) from None
    register = getattr(module, "register_actions", None)
    if not callable(register):
        raise HandlersModuleError(
            f"configuration error: ACTION_HANDLERS_MODULE {module_path!r} has no "
            "register_actions(handlers) function"
        )
    register(handlers)
    log.info("action handlers loaded", extra={"module": module_path, "handlers": len(handlers)})
    return handlers
