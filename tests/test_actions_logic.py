"""The pure halves of agents that act: wire shapes in and out, words, choices, the registry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.actions import logic
from bot.actions.record import Asked, Pending, Place
from bot.actions.registry import NO_HANDLER, ActionCall, ActionHandlers, load_handlers
from bot.actions.store import PendingStore
from bot.agents.agentcore import AnswerParser, build_payload
from bot.agents.bedrock_agents import BedrockAgentsBackend, StreamState, translate_event
from bot.agents.interrupts import interrupt_request
from bot.agents.return_control import action_request, invocation_results
from bot.events import ActionInput, ActionParameter, ActionRequest, AgentRequest
from bot.settings import ConfigError, load_settings
from tests.fakes.bedrock import api_input, function_input

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "s",
    "BEDROCK_AGENT_ID": "A",
    "BEDROCK_AGENT_ALIAS_ID": "B",
}


def paused(*members: dict[str, Any]) -> ActionRequest:
    request = action_request({"invocationId": "inv-1", "invocationInputs": list(members)})
    assert request is not None
    return request


def test_return_control_inputs_become_action_inputs_for_each_invocation_type() -> None:
    request = paused(
        function_input("orders", "cancelOrder", {"orderId": "ORD-1"}),
        function_input("orders", "lookupOrder", {"orderId": "ORD-1"}, kind="RESULT"),
        api_input(
            "pay",
            "post",
            "/refund",
            {"id": "9"},
            body={"amount": "3"},
            kind="USER_CONFIRMATION_AND_RESULT",
        ),
    )
    confirm, result, both = request.inputs
    assert request.invocation_id == "inv-1"
    assert (confirm.kind, confirm.name, confirm.needs_confirmation, confirm.needs_result) == (
        "function",
        "cancelOrder",
        True,
        False,
    )
    assert (result.needs_confirmation, result.needs_result) == (False, True)
    assert (both.kind, both.name, both.needs_confirmation, both.needs_result) == (
        "api",
        "POST /refund",
        True,
        True,
    )
    assert both.parameters == (ActionParameter("id", "9"), ActionParameter("amount", "3"))


def test_bedrock_stream_event_returncontrol_is_not_dropped() -> None:
    event = {"returnControl": {"invocationId": "x", "invocationInputs": [function_input("g", "f")]}}
    [request] = list(translate_event(event, StreamState()))
    assert isinstance(request, ActionRequest) and request.inputs[0].name == "f"


def test_a_resume_request_carries_invocation_id_and_results_and_no_input_text() -> None:
    request = paused(function_input("orders", "cancelOrder"), api_input("pay", "GET", "/x"))
    answers = {0: 0, 1: 1}
    results = logic.results(request, answers, {})
    backend = BedrockAgentsBackend.__new__(BedrockAgentsBackend)
    backend._agent_id, backend._alias_id, backend._replay_as_preamble = "A", "B", False
    params = backend.build_params(
        AgentRequest(
            text="", session_id="s:g1", session_attributes={"k": "v"}, user_id="U", resume=results
        )
    )
    assert "inputText" not in params
    state = params["sessionState"]
    assert state["invocationId"] == "inv-1" and state["sessionAttributes"] == {"k": "v"}
    function_result, api_result = state["returnControlInvocationResults"]
    assert function_result["functionResult"]["confirmationState"] == "CONFIRM"
    assert api_result["apiResult"]["confirmationState"] == "DENY"
    assert api_result["apiResult"]["responseBody"]["application/json"]["body"]


def test_failed_handler_results_say_failure() -> None:
    request = paused(function_input("g", "f", kind="RESULT"))
    [member] = invocation_results(logic.results(request, {}, {0: ("boom", True)}))[
        "returnControlInvocationResults"
    ]
    assert member["functionResult"]["responseState"] == "FAILURE"
    assert member["functionResult"]["responseBody"] == {"TEXT": {"body": "boom"}}


def test_words_name_the_action_and_each_parameter_and_escape_slack_controls() -> None:
    item = ActionInput(
        "function", "orders", "cancelOrder", (ActionParameter("note", "<@U1> & <!here>"),)
    )
    words = logic.describe(item)
    assert "run *cancelOrder* (action group _orders_)" in words
    assert "`note`: &lt;@U1&gt; &amp; &lt;!here&gt;" in words


@given(st.text(max_size=200), st.integers(0, 4), st.integers(0, 9))
def test_button_values_read_back_as_the_click_they_encode(
    conversation: str, index: int, choice: int
) -> None:
    value = logic.button_value(conversation, "p1", index, choice)
    assert logic.read_click(value) == logic.Click(conversation, "p1", index, choice)


@pytest.mark.parametrize(
    "value", ["", "not json", "[]", '{"c": 1}', '{"c":"x","p":"y","i":-1,"v":0}']
)
def test_unreadable_button_values_are_no_click(value: str) -> None:
    assert logic.read_click(value) is None


def test_interrupt_reasons_follow_the_welt_shapes() -> None:
    plain = interrupt_request({"interrupt": {"id": "q", "name": "n", "reason": "Go?"}})
    assert plain is not None and plain.inputs[0].reason == "Go?"
    assert logic.choices(plain.inputs[0]) == logic.DEFAULT_CHOICES
    options = [{"value": "a", "label": "Approve", "style": "primary"}, {"value": "b"}]
    rich = interrupt_request(
        {"interrupt": {"id": "q", "reason": {"message": "M", "options": options}}}
    )
    assert rich is not None
    assert [(c.label, c.value, c.style) for c in logic.choices(rich.inputs[0])] == [
        ("Approve", "a", "primary"),
        ("b", "b", None),
    ]
    other = interrupt_request({"interrupt": {"id": "q", "reason": {"x": 1}}})
    assert other is not None and json.loads(other.inputs[0].reason) == {"x": 1}
    assert interrupt_request({"interrupt": {"name": "no id"}}) is None


def test_agentcore_stream_interrupts_and_resume_payload() -> None:
    parser = AnswerParser("text/event-stream")
    events = parser.feed(b'data: {"interrupt": {"id": "q1", "name": "n", "reason": "Go?"}}\n\n')
    [request] = events
    assert isinstance(request, ActionRequest)
    results = logic.results(request, {0: 1}, {})
    payload = build_payload(
        AgentRequest(text="", session_id="s", session_attributes={}, user_id="U", resume=results),
        "runtime-session",
    )
    assert payload["interrupt_responses"] == {"q1": "n"} and "prompt" not in payload


def test_a_receipt_replaces_only_the_answered_buttons() -> None:
    request = paused(function_input("g", "a"), function_input("g", "b"))
    blocks = logic.question_blocks(request, conversation="c", pending_id="p", asker="U1")
    after = logic.with_receipts(blocks, request, pending_id="p", answers={1: 1}, asker="U1")
    kinds = [b["type"] for b in after]
    assert kinds == ["section", "actions", "section", "context", "context"]
    assert after[3]["elements"][0]["text"] == "🚫 Cancelled by <@U1>"
    expired = logic.with_receipts(
        blocks, request, pending_id="p", answers={}, asker="U1", expired=True
    )
    assert not [b for b in expired if b["type"] == "actions"]


async def test_the_registry_runs_async_and_plain_handlers_and_reports_missing_ones() -> None:
    handlers = ActionHandlers()
    handlers.register("f", lambda call: {"got": call.parameters["x"]})
    handlers.register("g", lambda call: "only in group", action_group="grp")
    item = ActionInput("function", "any", "f", needs_result=True)
    call = ActionCall("any", "f", {"x": "1"})
    assert await handlers.run(item, call) == ('{"got": "1"}', False)
    assert await handlers.run(ActionInput("function", "other", "g"), call) == (NO_HANDLER, True)
    assert (await handlers.run(ActionInput("function", "grp", "g"), call))[1] is False


def test_a_handlers_module_without_register_actions_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="ACTION_HANDLERS_MODULE 'json' has no register_actions"):
        load_handlers("json")
    assert len(load_handlers("tests.actions_module")) == 3


def test_confirm_timeout_defaults_to_the_session_idle_time_and_bad_modules_fail_fast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SESSION_IDLE_SECONDS", "900")
    assert load_settings(_env_file=None).confirm_timeout == 900
    monkeypatch.setenv("CONFIRM_TIMEOUT_SECONDS", "60")
    assert load_settings(_env_file=None).confirm_timeout == 60
    monkeypatch.setenv("ACTION_HANDLERS_MODULE", "no_such_module_here")
    with pytest.raises(ConfigError, match="ACTION_HANDLERS_MODULE names no importable module"):
        load_settings(_env_file=None)


async def test_a_store_that_cannot_reach_redis_says_so_instead_of_raising() -> None:
    store = PendingStore(Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), prefix="t:")
    request = paused(function_input("g", "f"))
    asked = Asked("c", "U1", "T", "C", "mention", "turn", "q", {})
    pending = Pending("p1", asked, "", "s", 1, request, Place("thread", "T", "C"), 9e9)
    assert await store.save(pending, now=0) is False
    assert (await store.load("c", "p1")).value == "unavailable"  # type: ignore[union-attr]
    assert (await store.claim("c", "p1", index=0, choice=0, now=0)).value == "unavailable"
    assert store.key("T:C:1.2", "p1") == "t:{T:C:1.2}:action:p1"
