"""Pure: how a paused agent's request is put to a person, and what their answers send back.

No I/O. A pause (`ActionRequest`) becomes words a person reads plus Confirm / Cancel buttons
(or the options an AgentCore interrupt offers); a click becomes a `Choice`; the choices become
the `ActionResult`s the backend turns into its own wire shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot import formatting
from bot.actions.buttons import Click as Click
from bot.actions.buttons import button_value as button_value
from bot.actions.buttons import read_click as read_click
from bot.events import ActionInput, ActionRequest, ActionResult
from bot.limits import BUTTON_LABEL_LIMIT

CONFIRM_ACTION = "act_confirm"
CANCEL_ACTION = "act_cancel"
OPTION_ACTION = "act_option_{index}"
MAX_OPTIONS = 10  # buttons per question; more would not fit one actions block readably
BLOCK_PREFIX = "act:"
HEADLINE = "*Before I go on, I need your OK:*"
HEADLINE_MARKDOWN = "**Before I go on, I need your OK:**"  # the same, as the answer's Markdown
ONLY_ASKER = "Only <@{asker}> can confirm this."
EXPIRED = "⌛ This request expired — ask again."
EXPIRED_NOTE = "This request expired — ask again."
ALREADY_ANSWERED = "This request was already answered."
DENIED_BODY = "The user declined this action; it was not run."
UNAVAILABLE = "I couldn't record your answer just now — please try again. (ref `{reference}`)"
NO_PLACE = (
    "I couldn't hold this request for your confirmation just now, so nothing was done — "
    "please ask again in a moment. (ref `{reference}`)"
)
_VALUE_LIMIT = 300  # a parameter value shown in words; the agent gets the whole value


@dataclass(frozen=True, slots=True)
class Choice:
    """One button of a question: its label, and what pressing it means.

    `confirmed` is True/False for Confirm/Cancel; an interrupt option carries its `value` as
    the answer instead (confirmed None), unless it is the default y/n pair.
    """

    label: str
    value: str
    style: str | None = None
    confirmed: bool | None = None


DEFAULT_CHOICES = (
    Choice("Confirm", "y", "primary", True),
    Choice("Cancel", "n", None, False),
)


def needs_person(request: ActionRequest) -> bool:
    return any(item.needs_confirmation for item in request.inputs)


def merge(first: ActionRequest | None, second: ActionRequest) -> ActionRequest:
    """Several pause events in one stream (one interrupt per question) are one request."""
    if first is None:
        return second
    return ActionRequest(first.invocation_id, first.inputs + second.inputs)


def choices(item: ActionInput) -> tuple[Choice, ...]:
    """The buttons for one input: an interrupt's own options, else Confirm / Cancel."""
    options = item.raw.get("options") if isinstance(item.raw, Mapping) else None
    if not isinstance(options, list) or not options:
        return DEFAULT_CHOICES
    found: list[Choice] = []
    for option in options[:MAX_OPTIONS]:
        if not isinstance(option, Mapping) or not str(option.get("value") or ""):
            return DEFAULT_CHOICES  # all or nothing, as Welt renders a malformed reason
        value = str(option["value"])
        style = option.get("style") if option.get("style") in ("primary", "danger") else None
        label = str(option.get("label") or value)[:BUTTON_LABEL_LIMIT]
        found.append(Choice(label, value, style))
    return tuple(found)


def describe(item: ActionInput) -> str:
    """What the agent wants to do, in Slack mrkdwn a person reads."""
    what = {
        "function": f"run *{_esc(item.name)}*",
        "api": f"call *{_esc(item.name)}*",
        "tool": f"use the tool *{_esc(item.name)}*",
    }.get(item.kind, "")
    lines: list[str] = []
    if item.kind == "interrupt":
        lines.append(_esc(item.reason) if item.reason else f"*{_esc(item.name)}*")
    else:
        group = f" (action group _{_esc(item.action_group)}_)" if item.action_group else ""
        lines.append(f"The agent wants to {what}{group}.")
        if item.reason:
            lines.append(_esc(item.reason))
    for parameter in item.parameters:
        value = parameter.value
        value = value if len(value) <= _VALUE_LIMIT else value[: _VALUE_LIMIT - 1] + "…"
        lines.append(f"• `{_esc(parameter.name)}`: {_esc(value)}")
    return "\n".join(lines)


def _esc(text: str) -> str:
    # Slack mrkdwn: these three are control characters; a value must not become a link/mention.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def action_id(item: ActionInput, choice: int) -> str:
    if choices(item) is DEFAULT_CHOICES:
        return CONFIRM_ACTION if choice == 0 else CANCEL_ACTION
    return OPTION_ACTION.format(index=choice)


def all_action_ids() -> tuple[str, ...]:
    options = (OPTION_ACTION.format(index=n) for n in range(MAX_OPTIONS))
    return (CONFIRM_ACTION, CANCEL_ACTION, *options)


def block_id(pending_id: str, index: int) -> str:
    return f"{BLOCK_PREFIX}{pending_id}:{index}"


def question_blocks(
    request: ActionRequest, *, conversation: str, pending_id: str, asker: str
) -> list[dict[str, Any]]:
    """Per input that needs a person: its words, then its buttons; one note on who may answer."""
    blocks: list[dict[str, Any]] = []
    for index, item in enumerate(request.inputs):
        blocks.append(_section(describe(item)))
        if not item.needs_confirmation:
            continue
        buttons = []
        for number, choice in enumerate(choices(item)):
            button: dict[str, Any] = {
                "type": "button",
                "action_id": action_id(item, number),
                "text": {"type": "plain_text", "text": choice.label, "emoji": True},
                "value": button_value(conversation, pending_id, index, number),
            }
            if choice.style:
                button["style"] = choice.style
            buttons.append(button)
        blocks.append(
            {"type": "actions", "block_id": block_id(pending_id, index), "elements": buttons}
        )
    note = f"Only <@{asker}> can answer this."
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return blocks


def receipt(choice: Choice, asker: str) -> str:
    if choice.confirmed is True:
        return f"✅ Confirmed by <@{asker}>"
    if choice.confirmed is False:
        return f"🚫 Cancelled by <@{asker}>"
    return f"“{_esc(choice.label)}” — chosen by <@{asker}>"


def with_receipts(
    blocks: Sequence[Mapping[str, Any]],
    request: ActionRequest,
    *,
    pending_id: str,
    answers: Mapping[int, int],
    asker: str,
    expired: bool = False,
) -> list[dict[str, Any]]:
    """The same message with answered buttons replaced by receipts (or all by "expired")."""
    out: list[dict[str, Any]] = []
    for block in blocks:
        index = _block_index(block, pending_id)
        shown = _receipt_for(request, index, answers=answers, asker=asker, expired=expired)
        out.append(dict(block) if shown is None else _context(shown))
    return out


def _receipt_for(
    request: ActionRequest,
    index: int | None,
    *,
    answers: Mapping[int, int],
    asker: str,
    expired: bool,
) -> str | None:
    """What replaces question `index`'s buttons: its receipt, "expired", or nothing (None)."""
    if index is None or index >= len(request.inputs):
        return None  # not one of this request's questions
    if index in answers:
        options = choices(request.inputs[index])
        return receipt(options[min(answers[index], len(options) - 1)], asker)
    return EXPIRED if expired else None


def rebuilt_blocks(
    request: ActionRequest,
    *,
    conversation: str,
    pending_id: str,
    asker: str,
    answers: Mapping[int, int],
    shown_text: str = "",
    expired: bool = False,
) -> list[dict[str, Any]]:
    """The message as first shown (the agent's words so far, the headline, the questions),
    with receipts for what was answered: Slack does not echo ephemeral messages back."""
    lead = formatting.to_mrkdwn(lead_markdown(shown_text))
    shown = question_blocks(request, conversation=conversation, pending_id=pending_id, asker=asker)
    return [
        *formatting.section_blocks(lead),
        *with_receipts(
            shown,
            request,
            pending_id=pending_id,
            answers=answers,
            asker=asker,
            expired=expired,
        ),
    ]


def lead_markdown(shown_text: str) -> str:
    """What the answer's message says above the questions."""
    return f"{shown_text}\n\n{HEADLINE_MARKDOWN}" if shown_text.strip() else HEADLINE_MARKDOWN


@dataclass(frozen=True, slots=True)
class Resume:
    """A paused turn going on: the same agent session, with what the person decided."""

    session_id: str
    generation: int
    results: tuple[ActionResult, ...]
    prior_text: str  # the answer's text before it paused (for memory; already shown)
    invocation_id: str


def _block_index(block: Mapping[str, Any], pending_id: str) -> int | None:
    prefix = f"{BLOCK_PREFIX}{pending_id}:"
    block_name = str(block.get("block_id") or "")
    if not block_name.startswith(prefix):
        return None
    try:
        return int(block_name[len(prefix) :])
    except ValueError:
        return None


def results(
    request: ActionRequest,
    answers: Mapping[int, int],
    handled: Mapping[int, tuple[str, bool]],
) -> tuple[ActionResult, ...]:
    """What goes back to the agent, one result per input, in the agent's order.

    `answers`: the person's choice per input that needed one; `handled`: (body, failed) of the
    local handler per input whose result the caller computes.
    """
    out: list[ActionResult] = []
    for index, item in enumerate(request.inputs):
        confirmed: bool | None = None
        body, failed = handled.get(index, ("", False))
        if item.needs_confirmation and index in answers:
            options = choices(item)
            chosen = options[min(answers[index], len(options) - 1)]
            confirmed = chosen.confirmed
            if item.kind == "interrupt":
                body = chosen.value
            elif confirmed is False:
                body, failed = DENIED_BODY, False
        out.append(ActionResult(item, confirmed, body, failed, request.invocation_id))
    return tuple(out)


def runs_locally(item: ActionInput, answer: int | None) -> bool:
    """Whether the caller's handler runs for this input: a result is wanted and not refused."""
    if not item.needs_result:
        return False
    if not item.needs_confirmation:
        return True
    return (
        answer is not None and choices(item)[min(answer, len(choices(item)) - 1)].confirmed is True
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
