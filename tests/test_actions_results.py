"""End to end: the caller's side of return of control (RESULT handlers) and what fails visibly.

Local handlers come from `tests/actions_module.py`, named by ACTION_HANDLERS_MODULE.
"""

from __future__ import annotations

import json

import pytest

from tests import actions_module
from tests.clicks import ask_in_channel, buttons, press
from tests.conftest import StartBot
from tests.fakes.bedrock import HttpError, ReturnControl, Script, api_input, function_input
from tests.fakes.signing import FORM_CONTENT_TYPE, interaction_body
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, wait_finished
from tests.private_redis import PrivateRedis

CANCEL_ORDER = function_input("orders", "cancelOrder", {"orderId": "ORD-88421"})
HANDLERS = "tests.actions_module"
LOOKUP = function_input("orders", "lookupOrder", {"orderId": "ORD-7"}, kind="RESULT")
result_return_of_control = pytest.mark.bedrock_only("RESULT return of control is Bedrock Agents'")


@pytest.fixture
async def handlers_bot(start: StartBot) -> Bot:
    """A bot with the local handlers of `tests/actions_module.py`."""
    return await start(ACTION_HANDLERS_MODULE=HANDLERS)


@result_return_of_control
async def test_result_return_control_runs_the_registered_handler_and_returns_its_body(
    handlers_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(Script([ReturnControl("inv-7", [LOOKUP])]), Script.answer("ORD-7 shipped."))
    event = mention("where is ORD-7?")

    await handlers_bot.send_event(event)

    _, resumed = await bedrock.wait_for_invocations(2)
    await wait_finished(slack)
    [result] = resumed.return_control_results
    assert result["functionResult"]["responseBody"] == {
        "TEXT": {"body": '{"orderId": "ORD-7", "status": "shipped"}'}
    }
    assert "confirmationState" not in result["functionResult"]
    assert "responseState" not in result["functionResult"]
    [answer] = slack.thread("C0CHAN", event["ts"])
    assert answer.visible.startswith("ORD-7 shipped.")
    assert not buttons(answer.blocks)  # no question left, only the feedback buttons
    assert [b["type"] for b in answer.blocks][-1] == "context_actions"
    assert any(
        c.user_id == "U0USER" and c.parameters == {"orderId": "ORD-7"} for c in actions_module.CALLS
    )


@result_return_of_control
async def test_result_without_a_handler_returns_a_failure_the_agent_can_explain(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(
        Script([ReturnControl("inv-8", [LOOKUP])]), Script.answer("I can't look orders up.")
    )
    event = mention("where is ORD-7?")

    await bot.send_event(event)

    _, resumed = await bedrock.wait_for_invocations(2)
    await wait_finished(slack)
    [result] = resumed.return_control_results
    assert result["functionResult"]["responseState"] == "FAILURE"
    assert "no handler is registered" in result["functionResult"]["responseBody"]["TEXT"]["body"]
    [answer] = slack.thread("C0CHAN", event["ts"])
    assert answer.visible.startswith("I can't look orders up.")


@result_return_of_control
async def test_a_handler_that_raises_returns_a_short_failure_reason_without_its_secrets(
    handlers_bot: Bot, slack: FakeSlack, bedrock: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    boom = function_input("ops", "explode", kind="RESULT")
    bedrock.enqueue(Script([ReturnControl("inv-9", [boom])]), Script.answer("That failed."))

    await handlers_bot.send_event(mention("blow up"))

    _, resumed = await bedrock.wait_for_invocations(2)
    [result] = resumed.return_control_results
    assert result["functionResult"]["responseState"] == "FAILURE"
    body = result["functionResult"]["responseBody"]["TEXT"]["body"]
    assert body.startswith("The action failed while running (reference ") and "hunter2" not in body
    reference = body.split("reference ")[1].rstrip(").")
    assert any(getattr(r, "reference", None) == reference for r in caplog.records)


@pytest.mark.bedrock_only("USER_CONFIRMATION_AND_RESULT is Bedrock Agents' return of control")
async def test_confirmation_and_result_asks_first_then_runs_the_handler(
    handlers_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    refund = api_input(
        "payments",
        "POST",
        "/orders/{orderId}/refund",
        {"orderId": "ORD-9"},
        body={"amount": "12.50"},
        kind="USER_CONFIRMATION_AND_RESULT",
    )
    _, message = await ask_in_channel(
        handlers_bot, slack, bedrock, ReturnControl("inv-10", [refund])
    )
    bedrock.enqueue(Script.answer("Refunded."))

    await press(
        handlers_bot, slack, blocks=message.blocks, label="Confirm", channel="C0CHAN", ts=message.ts
    )

    _, resumed = await bedrock.wait_for_invocations(2)
    [result] = resumed.return_control_results
    assert result["apiResult"]["confirmationState"] == "CONFIRM"
    assert result["apiResult"]["responseBody"] == {
        "application/json": {"body": "refunded 12.50 on ORD-9"}
    }
    assert result["apiResult"]["httpStatusCode"] == 200


async def test_during_a_redis_outage_a_pause_says_nothing_was_done_and_a_click_says_try_again(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent, private_redis: PrivateRedis
) -> None:
    bot = await start(REDIS_URL=private_redis.url)
    _, shown = await ask_in_channel(bot, slack, bedrock, ReturnControl("inv-17", [CANCEL_ORDER]))
    await private_redis.stop()

    _, message = await ask_in_channel(bot, slack, bedrock, ReturnControl("inv-18", [CANCEL_ORDER]))
    hook = await press(
        bot, slack, blocks=shown.blocks, label="Confirm", channel="C0CHAN", ts=shown.ts
    )

    assert "so nothing was done" in message.visible and "(ref `" in message.visible
    assert not buttons(message.blocks)
    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    assert "couldn't record your answer" in slack.responses[hook][0]["text"]
    assert len(bedrock.invocations) == 2 and len(buttons(shown.blocks)) == 2


@result_return_of_control
async def test_an_agent_that_keeps_asking_for_local_results_ends_with_a_visible_error(
    handlers_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.responder = lambda _: Script([ReturnControl("inv-loop", [LOOKUP])])
    event = mention("loop forever")

    await handlers_bot.send_event(event)

    await wait_finished(slack)
    [answer] = slack.thread("C0CHAN", event["ts"])
    assert "Something went wrong" in answer.visible and "(ref `" in answer.visible
    assert len(bedrock.invocations) == 6 and not buttons(answer.blocks)


@pytest.mark.bedrock_only("the error code is Bedrock Agents'")
async def test_an_agent_that_fails_after_the_click_says_so_with_a_reference(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    event, message = await ask_in_channel(
        bot, slack, bedrock, ReturnControl("inv-20", [CANCEL_ORDER])
    )
    bedrock.enqueue(Script([HttpError(400, "ValidationException", "invocationId expired")]))

    await press(bot, slack, blocks=message.blocks, label="Confirm", channel="C0CHAN", ts=message.ts)

    await wait_finished(slack, 2)
    _, answer = slack.thread("C0CHAN", event["ts"])
    assert "couldn't accept" in answer.visible and "(ref `" in answer.visible
    assert "invocationId expired" not in answer.visible


async def test_forged_or_malformed_clicks_get_200_and_resume_nothing(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    _, message = await ask_in_channel(bot, slack, bedrock, ReturnControl("inv-21", [CANCEL_ORDER]))
    [(block_id, button)] = buttons(message.blocks)[:1]
    forged = json.loads(button["value"]) | {"p": "0" * 12}
    for user, value in (
        ("U0USER", "not json"),
        ("U0USER", json.dumps(forged)),
        ("U0USER", json.dumps(json.loads(button["value"]) | {"i": 7})),
        ({"id": ["U0USER"]}, button["value"]),
    ):
        payload = {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": user if isinstance(user, dict) else {"id": user},
            "container": "not an object",
            "actions": [{"action_id": "act_confirm", "block_id": block_id, "value": value}],
        }
        response = await bot.post_signed(interaction_body(payload), content_type=FORM_CONTENT_TYPE)
        assert response.status == 200
    await press(bot, slack, blocks=message.blocks, label="Confirm", channel="C0CHAN", ts=message.ts)
    await bedrock.wait_for_invocations(2)
    assert len(bedrock.invocations) == 2
