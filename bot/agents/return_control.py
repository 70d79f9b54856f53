"""Pure: Bedrock Agents return of control, in and out.

InvokeAgent ends its stream with a `returnControl` event when an action group needs the caller:
`invocationInputs[]` holds a `functionInvocationInput` or an `apiInvocationInput`, each with an
`actionInvocationType` — USER_CONFIRMATION (ask a person, Bedrock then runs the action),
RESULT (the caller runs it), USER_CONFIRMATION_AND_RESULT (both, in that order). The next
InvokeAgent carries `sessionState.invocationId` (the same id) and one
`returnControlInvocationResults[]` member per input (`functionResult` / `apiResult`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.events import ActionInput, ActionParameter, ActionRequest, ActionResult

_CONFIRM = frozenset({"USER_CONFIRMATION", "USER_CONFIRMATION_AND_RESULT"})
_RESULT = frozenset({"RESULT", "USER_CONFIRMATION_AND_RESULT"})


def action_request(payload: Mapping[str, Any]) -> ActionRequest | None:
    """A `returnControl` payload as the bot's ActionRequest (None when it holds no input)."""
    inputs = tuple(
        item
        for member in payload.get("invocationInputs") or ()
        if (item := _input(member)) is not None
    )
    if not inputs:
        return None
    return ActionRequest(str(payload.get("invocationId") or ""), inputs)


def _input(member: Mapping[str, Any]) -> ActionInput | None:
    if isinstance(function := member.get("functionInvocationInput"), Mapping):
        raw = _ids(function, "actionGroup", "function", "agentId", "collaboratorName")
        return ActionInput(
            kind="function",
            action_group=str(function.get("actionGroup") or ""),
            name=str(function.get("function") or ""),
            parameters=_parameters(function.get("parameters")),
            needs_confirmation=_type(function) in _CONFIRM,
            needs_result=_type(function) in _RESULT,
            raw=raw,
        )
    if isinstance(api := member.get("apiInvocationInput"), Mapping):
        raw = _ids(api, "actionGroup", "apiPath", "httpMethod", "agentId", "collaboratorName")
        body: list[ActionParameter] = []
        content = (api.get("requestBody") or {}).get("content") or {}
        for media in content.values() if isinstance(content, Mapping) else ():
            body += _parameters((media or {}).get("properties"))
        raw["body"] = {p.name: p.value for p in body}
        method, path = str(api.get("httpMethod") or "").upper(), str(api.get("apiPath") or "")
        return ActionInput(
            kind="api",
            action_group=str(api.get("actionGroup") or ""),
            name=f"{method} {path}".strip(),
            parameters=_parameters(api.get("parameters")) + tuple(body),
            needs_confirmation=_type(api) in _CONFIRM,
            needs_result=_type(api) in _RESULT,
            raw=raw,
        )
    return None


def _ids(source: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: str(source[name]) for name in names if source.get(name)}


def _type(source: Mapping[str, Any]) -> str:
    # Absent type: an action group with RETURN_CONTROL and no confirmation, i.e. RESULT.
    return str(source.get("actionInvocationType") or "RESULT")


def _parameters(items: Any) -> tuple[ActionParameter, ...]:
    if not isinstance(items, Sequence):
        return ()
    return tuple(
        ActionParameter(str(p.get("name") or ""), str(p.get("value") or ""))
        for p in items
        if isinstance(p, Mapping) and p.get("name")
    )


def invocation_results(results: Sequence[ActionResult]) -> dict[str, Any]:
    """The `sessionState` members that send results back for one invocation."""
    members = [member for result in results if (member := result_member(result))]
    return {
        "invocationId": next((r.invocation_id for r in results if r.invocation_id), ""),
        "returnControlInvocationResults": members,
    }


def result_member(result: ActionResult) -> dict[str, Any] | None:
    """One InvocationResultMember: `functionResult` or `apiResult` (other kinds: None)."""
    item, raw = result.input, result.input.raw
    base: dict[str, Any] = {"actionGroup": item.action_group}
    if raw.get("agentId"):
        base["agentId"] = raw["agentId"]  # a collaborator's action: its agent takes the result
    if result.confirmed is not None:
        base["confirmationState"] = "CONFIRM" if result.confirmed else "DENY"
    if result.failed:
        base["responseState"] = "FAILURE"
    if item.kind == "api":
        base["apiPath"] = raw.get("apiPath", "")
        base["httpMethod"] = raw.get("httpMethod", "")
        if result.body:
            base["responseBody"] = {"application/json": {"body": result.body}}
            base["httpStatusCode"] = 500 if result.failed else 200
        return {"apiResult": base}
    if item.kind == "function":
        base["function"] = raw.get("function", item.name)
        if result.body:
            base["responseBody"] = {"TEXT": {"body": result.body}}
        return {"functionResult": base}
    return None
