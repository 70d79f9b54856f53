"""End to end: agents that act — Confirm / Cancel for return of control and interrupts (SPEC 14).

Clicks are signed `block_actions` requests shaped like Slack's; the fakes record what went back
to the agent (`returnControlInvocationResults`, `interrupt_responses`, the harness's
`toolResult` blocks). Each scripted `ReturnControl` plays as the backend pauses: Bedrock's
returnControl, one AgentCore interrupt per input, or the harness's inline tool uses.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from bot.actions.registry import NO_HANDLER
from tests.clicks import ask_in_channel, buttons, click_payload, decisions, metric, press
from tests.conftest import StartBot
from tests.fakes.agentcore import FakeAgentCoreRuntime
from tests.fakes.bedrock import (
    Interrupt,
    ReturnControl,
    Script,
    Text,
    api_input,
    function_input,
)
from tests.fakes.harness import FakeHarness
from tests.fakes.signing import FORM_CONTENT_TYPE, event_envelope, slash_command_body
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, new_ts, wait_finished

CANCEL_ORDER = function_input("orders", "cancelOrder", {"orderId": "ORD-88421"})


async def test_confirm_shows_the_action_in_words_and_resumes_the_same_session(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    event, message = await ask_in_channel(
        bot, slack, bedrock, ReturnControl("inv-1", [CANCEL_ORDER])
    )
    assert "Before I go on, I need your OK" in message.visible
    if isinstance(bedrock, FakeAgentCoreRuntime):
        assert "Run cancelOrder(orderId=ORD-88421)?" in message.visible
    elif isinstance(bedrock, FakeHarness):
        assert "use the tool *cancelOrder*" in message.visible
        assert "• `orderId`: ORD-88421" in message.visible
    else:
        assert "run *cancelOrder* (action group _orders_)" in message.visible
        assert "• `orderId`: ORD-88421" in message.visible
    assert [(b["text"]["text"], b.get("style")) for _, b in buttons(message.blocks)] == [
        ("Confirm", "primary"),
        ("Cancel", None),
    ]
    assert "empty answer" not in message.visible
    conversation = f"T0001:C0CHAN:{event['ts']}"
    memory = bot.runtime.services.memory
    assert await memory.history(conversation) == []  # a pause is no answer: nothing recorded
    bedrock.enqueue(Script.answer("Order ORD-88421 is cancelled."))

    await press(bot, slack, blocks=message.blocks, label="Confirm", channel="C0CHAN", ts=message.ts)

    first, resumed = await bedrock.wait_for_invocations(2)
    await wait_finished(slack, 2)
    assert resumed.session_id == first.session_id
    if isinstance(bedrock, FakeAgentCoreRuntime):
        assert resumed.interrupt_responses == {"inv-1-0": "y"}
        assert "prompt" not in resumed.body
    elif isinstance(bedrock, FakeHarness):
        # The paused tool turn comes back whole; confirmed, the tool needs a result, and with
        # no handler registered the harness is told it is unavailable (the agent can say so).
        tool_use = {"toolUseId": "inv-1-0", "name": "cancelOrder", "type": "tool_use"}
        assert resumed.messages == [
            {
                "role": "assistant",
                "content": [{"toolUse": tool_use | {"input": {"orderId": "ORD-88421"}}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": "inv-1-0",
                            "content": [{"text": NO_HANDLER}],
                            "status": "error",
                        }
                    }
                ],
            },
        ]
    else:
        assert resumed.invocation_id == "inv-1"
        assert resumed.return_control_results == [
            {
                "functionResult": {
                    "actionGroup": "orders",
                    "agentId": "AGENT12345",
                    "confirmationState": "CONFIRM",
                    "function": "cancelOrder",
                }
            }
        ]
        assert "inputText" not in resumed.body
    assert resumed.session_attributes["slackUserId"] == "U0USER"
    assert not buttons(message.blocks)
    assert "✅ Confirmed by <@U0USER>" in message.visible
    question, answer = slack.thread("C0CHAN", event["ts"])
    assert question is message and answer.visible.startswith("Order ORD-88421 is cancelled.")
    assert await metric(bot, "shown") == 1 and await metric(bot, "confirmed") == 1
    [turn] = await memory.history(conversation)
    assert (turn.question, turn.answer) == (
        "cancel my order ORD-88421",
        "Order ORD-88421 is cancelled.",
    )
    paused_per_input = isinstance(bedrock, FakeAgentCoreRuntime | FakeHarness)
    invocation = "inv-1-0" if paused_per_input else "inv-1"
    for message_text in ("confirmation shown", "confirmation click", "resuming a paused answer"):
        [logged] = [r for r in caplog.records if r.getMessage() == message_text]
        assert getattr(logged, "invocation_id", None) == invocation, message_text
    info = [r for r in caplog.records if r.levelno <= logging.INFO]
    assert not [r for r in info if "ORD-88421" in f"{r.getMessage()} {vars(r)}"]


@pytest.mark.bedrock_only("API invocation inputs are Bedrock Agents' return of control")
async def test_cancel_sends_deny_for_an_api_action_and_says_who_cancelled(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    refund = api_input(
        "payments", "POST", "/orders/{orderId}/refund", {"orderId": "ORD-1"}, body={"amount": "42"}
    )
    _, message = await ask_in_channel(bot, slack, bedrock, ReturnControl("inv-2", [refund]))
    assert "call *POST /orders/{orderId}/refund*" in message.visible
    assert "• `amount`: 42" in message.visible
    bedrock.enqueue(Script.answer("OK, I did not refund it."))

    await press(bot, slack, blocks=message.blocks, label="Cancel", channel="C0CHAN", ts=message.ts)

    _, resumed = await bedrock.wait_for_invocations(2)
    [result] = resumed.return_control_results
    assert result["apiResult"]["confirmationState"] == "DENY"
    assert result["apiResult"]["apiPath"] == "/orders/{orderId}/refund"
    assert result["apiResult"]["httpMethod"] == "POST"
    await slack.wait_for(lambda: "🚫 Cancelled by <@U0USER>" in message.visible)
    assert await metric(bot, "denied") == 1


async def test_only_the_asker_can_confirm_and_others_get_an_ephemeral_note(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    _, message = await ask_in_channel(bot, slack, bedrock, ReturnControl("inv-3", [CANCEL_ORDER]))

    hook = await press(
        bot,
        slack,
        blocks=message.blocks,
        label="Confirm",
        channel="C0CHAN",
        ts=message.ts,
        user="U0OTHER",
    )

    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    [note] = slack.responses[hook]
    assert note["text"] == "Only <@U0USER> can confirm this."
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    assert len(bedrock.invocations) == 1 and len(buttons(message.blocks)) == 2
    bedrock.enqueue(Script.answer("Cancelled."))
    await press(bot, slack, blocks=message.blocks, label="Confirm", channel="C0CHAN", ts=message.ts)
    await bedrock.wait_for_invocations(2)


async def test_a_double_click_resumes_the_agent_once(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    event, message = await ask_in_channel(
        bot, slack, bedrock, ReturnControl("inv-4", [CANCEL_ORDER])
    )
    bedrock.enqueue(Script.answer("Cancelled once."))
    blocks = list(message.blocks)

    await asyncio.gather(
        *(
            press(bot, slack, blocks=blocks, label=label, channel="C0CHAN", ts=message.ts)
            for label in ("Confirm", "Confirm", "Cancel")
        )
    )

    await wait_finished(slack, 2)
    await bedrock.invocations[1].wait_finished()
    assert len(bedrock.invocations) == 2
    assert len(slack.thread("C0CHAN", event["ts"])) == 2
    assert await metric(bot, "confirmed") + await metric(bot, "denied") == 1


async def test_a_click_on_a_second_replica_resumes_once_there(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    first, second = await start(), await start()
    event, message = await ask_in_channel(
        first, slack, bedrock, ReturnControl("inv-5", [CANCEL_ORDER])
    )
    bedrock.enqueue(Script.answer("Cancelled by replica two."))
    blocks = list(message.blocks)

    await press(second, slack, blocks=blocks, label="Confirm", channel="C0CHAN", ts=message.ts)
    await wait_finished(slack, 2)
    await press(first, slack, blocks=blocks, label="Confirm", channel="C0CHAN", ts=message.ts)

    await bedrock.invocations[1].wait_finished()
    assert len(bedrock.invocations) == 2
    replies = slack.thread("C0CHAN", event["ts"])
    assert [r.visible.split("\n")[0] for r in replies[1:]] == ["Cancelled by replica two."]
    assert await metric(second, "confirmed") == 1 and await metric(first, "confirmed") == 0


async def test_an_unanswered_confirmation_expires_and_a_late_click_resumes_nothing(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(CONFIRM_TIMEOUT_SECONDS="1")
    _, message = await ask_in_channel(bot, slack, bedrock, ReturnControl("inv-6", [CANCEL_ORDER]))
    blocks = list(message.blocks)

    await slack.wait_for(lambda: "expired — ask again" in message.visible, timeout=10)
    hook = await press(bot, slack, blocks=blocks, label="Confirm", channel="C0CHAN", ts=message.ts)

    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    assert slack.responses[hook][0]["text"] == "This request expired — ask again."
    assert not buttons(message.blocks)
    assert len(bedrock.invocations) == 1
    assert await metric(bot, "expired") == 1


async def test_several_inputs_show_in_one_message_and_resume_once_all_are_answered(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    second = function_input("tickets", "openTicket", {"title": "Refund ORD-88421"})
    _, message = await ask_in_channel(
        bot, slack, bedrock, ReturnControl("inv-11", [CANCEL_ORDER, second])
    )
    assert [b["text"]["text"] for _, b in buttons(message.blocks)] == [
        "Confirm",
        "Cancel",
        "Confirm",
        "Cancel",
    ]
    bedrock.enqueue(Script.answer("Cancelled; no ticket."))
    blocks = list(message.blocks)

    await press(bot, slack, blocks=blocks, label="Confirm", channel="C0CHAN", ts=message.ts)
    await slack.wait_for(lambda: "✅ Confirmed by <@U0USER>" in message.visible)
    assert len(bedrock.invocations) == 1 and len(buttons(message.blocks)) == 2
    await press(bot, slack, blocks=blocks, label="Cancel", nth=1, channel="C0CHAN", ts=message.ts)

    _, resumed = await bedrock.wait_for_invocations(2)
    assert decisions(bedrock, resumed) == {"inv-11-0": "CONFIRM", "inv-11-1": "DENY"}
    await slack.wait_for(lambda: "🚫 Cancelled by <@U0USER>" in message.visible)


@pytest.mark.bedrock_only("the order command's agent is the Bedrock Agent")
async def test_order_command_confirmation_is_ephemeral_through_response_url(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(Script([ReturnControl("inv-12", [CANCEL_ORDER])]))
    hook = uuid.uuid4().hex[:8]
    body = slash_command_body(
        "/order",
        "ORD-88421",
        user_id="U0USER",
        channel_id="C0CHAN",
        response_url=slack.response_url(hook),
        trigger_id=f"trig-{hook}",
    )
    await bot.post_signed(body, content_type=FORM_CONTENT_TYPE)
    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    [question] = slack.responses[hook]
    assert question["response_type"] == "ephemeral"
    assert len(buttons(question["blocks"])) == 2
    bedrock.enqueue(Script.answer("Order ORD-88421 is cancelled."))

    click = await press(
        bot,
        slack,
        blocks=question["blocks"],
        label="Confirm",
        channel="C0CHAN",
        ts="1.2",
        ephemeral=True,
    )

    await slack.wait_for(lambda: len(slack.responses.get(click, [])) >= 2)
    receipt, answer = slack.responses[click]
    assert receipt["replace_original"] is True and not buttons(receipt["blocks"])
    assert "✅ Confirmed by <@U0USER>" in str(receipt["blocks"])
    assert answer["replace_original"] is False and answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Order ORD-88421 is cancelled.")
    assert not slack.calls_to("chat.postMessage") and not slack.calls_to("chat.update")


async def test_a_confirmation_in_a_dm_thread_continues_in_that_thread(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bedrock.enqueue(Script([ReturnControl("inv-13", [CANCEL_ORDER])]))
    top = new_ts()
    ts = new_ts()
    await bot.send_event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D0DM",
            "user": "U0USER",
            "text": "cancel ORD-88421",
            "ts": ts,
            "event_ts": ts,
            "thread_ts": top,
            "team": "T0001",
        }
    )
    await slack.wait_for(lambda: bool(slack.thread("D0DM", top)))
    [message] = slack.thread("D0DM", top)
    await slack.wait_for(lambda: bool(buttons(message.blocks)))
    bedrock.enqueue(Script.answer("Cancelled in the DM."))

    await press(bot, slack, blocks=message.blocks, label="Confirm", channel="D0DM", ts=message.ts)

    await slack.wait_for(lambda: len(slack.thread("D0DM", top)) == 2)
    _, answer = slack.thread("D0DM", top)
    await slack.wait_for(lambda: answer.visible.startswith("Cancelled in the DM."))
    assert "✅ Confirmed by <@U0USER>" in message.visible
    await slack.wait_for(lambda: slack.status("D0DM", top) == "")


async def test_an_interrupt_with_options_offers_them_and_resumes_with_the_chosen_value(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    if not isinstance(bedrock, FakeAgentCoreRuntime):
        pytest.skip("interrupts are AgentCore Runtime's")
    reason = {
        "message": "Deploy to prod?",
        "options": [
            {"value": "approve", "label": "Deploy", "style": "primary"},
            {"value": "reject", "label": "Not now"},
        ],
    }
    _, message = await ask_in_channel(bot, slack, bedrock, Interrupt("q-1", "deploy", reason))
    assert "Deploy to prod?" in message.visible
    assert [b["text"]["text"] for _, b in buttons(message.blocks)] == ["Deploy", "Not now"]
    bedrock.enqueue(Script.answer("Deploying."))

    await press(bot, slack, blocks=message.blocks, label="Deploy", channel="C0CHAN", ts=message.ts)

    _, resumed = await bedrock.wait_for_invocations(2)
    assert resumed.interrupt_responses == {"q-1": "approve"}
    await slack.wait_for(lambda: "“Deploy” — chosen by <@U0USER>" in message.visible)


async def test_a_resumed_answer_may_pause_again_and_goes_on_after_the_second_click(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    event, first = await ask_in_channel(
        bot, slack, bedrock, ReturnControl("inv-14", [CANCEL_ORDER])
    )
    refund = function_input("payments", "refund", {"orderId": "ORD-88421"})
    bedrock.enqueue(Script([Text("Cancelled. "), ReturnControl("inv-15", [refund])]))
    await press(bot, slack, blocks=first.blocks, label="Confirm", channel="C0CHAN", ts=first.ts)
    await slack.wait_for(lambda: len(slack.thread("C0CHAN", event["ts"])) == 2)
    second = slack.thread("C0CHAN", event["ts"])[1]
    await slack.wait_for(lambda: bool(buttons(second.blocks)))
    assert second.visible.startswith("Cancelled.") and "refund" in second.visible
    bedrock.enqueue(Script.answer("Refund issued too."))

    await press(bot, slack, blocks=second.blocks, label="Confirm", channel="C0CHAN", ts=second.ts)

    await bedrock.wait_for_invocations(3)
    await slack.wait_for(lambda: len(slack.thread("C0CHAN", event["ts"])) == 3)
    third = slack.thread("C0CHAN", event["ts"])[2]
    await wait_finished(slack, 3)
    assert third.visible.startswith("Refund issued too.")
    assert "Cancelled." in second.visible and "✅ Confirmed by <@U0USER>" in second.visible
    conversation = f"T0001:C0CHAN:{event['ts']}"
    [turn] = await bot.runtime.services.memory.history(conversation)
    assert turn.answer == "Cancelled. \n\nRefund issued too."


async def test_a_confirmation_whose_replica_went_away_still_expires_on_another(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    first = await start(CONFIRM_TIMEOUT_SECONDS="2")
    _, message = await ask_in_channel(
        first, slack, bedrock, ReturnControl("inv-16", [CANCEL_ORDER])
    )
    assert first.runtime.services.actions is not None
    await first.runtime.services.actions.close()  # its timers die with it, as in a crash

    second = await start(CONFIRM_TIMEOUT_SECONDS="2")

    await slack.wait_for(lambda: "expired — ask again" in message.visible, timeout=10)
    assert not buttons(message.blocks)
    assert await metric(second, "expired") == 1 and await metric(first, "expired") == 0


async def test_in_update_mode_the_question_replaces_the_placeholder(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update")
    bedrock.enqueue(Script([ReturnControl("inv-19", [CANCEL_ORDER])]))
    event = mention("cancel my order ORD-88421")
    await bot.send_event(event)
    await slack.wait_for(
        lambda: any(buttons(m.blocks) for m in slack.thread("C0CHAN", event["ts"]))
    )
    [message] = slack.thread("C0CHAN", event["ts"])
    assert "Thinking" not in message.visible and len(buttons(message.blocks)) == 2
    bedrock.enqueue(Script.answer("Cancelled."))

    await press(bot, slack, blocks=message.blocks, label="Cancel", channel="C0CHAN", ts=message.ts)

    await slack.wait_for(lambda: len(slack.thread("C0CHAN", event["ts"])) == 2)
    _, answer = slack.thread("C0CHAN", event["ts"])
    await slack.wait_for(lambda: answer.visible.startswith("Cancelled."))
    assert "🚫 Cancelled by <@U0USER>" in message.visible and "Thinking" not in answer.visible


async def test_a_click_over_socket_mode_resumes_the_agent_too(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    await start(SLACK_APP_TOKEN=slack.app_token, SLACK_SIGNING_SECRET="")
    bedrock.enqueue(Script([ReturnControl("inv-22", [CANCEL_ORDER])]))
    event = mention("cancel my order ORD-88421")
    await slack.socket_send("events_api", event_envelope(event))
    await wait_finished(slack)
    [message] = slack.thread("C0CHAN", event["ts"])
    bedrock.enqueue(Script.answer("Cancelled over the socket."))
    payload, _ = click_payload(
        slack, blocks=message.blocks, label="Confirm", channel="C0CHAN", ts=message.ts
    )

    ack = await slack.socket_send("interactive", payload)

    assert "envelope_id" in ack
    await wait_finished(slack, 2)
    assert slack.thread("C0CHAN", event["ts"])[1].visible.startswith("Cancelled over the socket.")
