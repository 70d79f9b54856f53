"""What a Slack user sees when the bot runs on an AgentCore harness (AGENT_BACKEND=harness)."""

from __future__ import annotations

import pytest

from tests.clicks import ask_in_channel, buttons, press
from tests.conftest import StartBot
from tests.fakes.bedrock import ReturnControl, Script, Text, Trace, function_input
from tests.fakes.harness import FakeHarness, Stop, Tokens, ToolUse
from tests.fakes.slack import FakeSlack
from tests.harness import HARNESS_ARN, Bot, mention, wait_finished

pytestmark = pytest.mark.parametrize("bedrock", ["harness"], indirect=True)


def thread_text(slack: FakeSlack, ts: str) -> str:
    return "\n".join(m.visible for m in slack.thread("C0CHAN", ts))


async def test_the_harness_is_asked_for_the_team_qualified_user_in_its_own_session(
    bot: Bot, slack: FakeSlack, bedrock: FakeHarness
) -> None:
    event = mention("hello harness", user="U0ASKER")
    await bot.send_event(event)
    await wait_finished(slack)

    [invocation] = bedrock.invocations
    assert invocation.harness_arn == HARNESS_ARN and invocation.qualifier is None
    assert invocation.user_id == "slack:T0001:U0ASKER"
    assert invocation.body["actorId"] == "slack:T0001:U0ASKER"
    assert invocation.messages == [{"role": "user", "content": [{"text": "hello harness"}]}]
    assert "You said: hello harness" in thread_text(slack, event["ts"])


async def test_reasoning_and_tool_output_never_show_as_answer_text(
    bot: Bot, slack: FakeSlack, bedrock: FakeHarness
) -> None:
    bedrock.enqueue(
        Script(
            [
                Trace(None),
                ToolUse("lookup", {"q": "x"}, result="SECRET TOOL OUTPUT"),
                Text("The answer is 42."),
            ]
        )
    )
    event = mention("what is it?")
    await bot.send_event(event)
    await wait_finished(slack)

    text = thread_text(slack, event["ts"])
    assert "The answer is 42." in text
    assert "SECRET TOOL OUTPUT" not in text and "Looking into it" not in text


@pytest.mark.parametrize(
    ("reason", "says"),
    [("max_tokens", "length limit"), ("content_filtered", "content filter")],
)
async def test_an_answer_cut_by_the_model_says_why_under_the_partial_text(
    bot: Bot, slack: FakeSlack, bedrock: FakeHarness, reason: str, says: str
) -> None:
    bedrock.enqueue(Script([Text("The first half of"), Stop(reason)]))
    event = mention("long question")
    await bot.send_event(event)
    await wait_finished(slack)

    text = thread_text(slack, event["ts"])
    assert text.startswith("The first half of")
    assert says in text and "ref `" in text
    assert "interrupted" not in text  # the model stopped it; nothing broke


async def test_the_harness_endpoint_named_by_the_qualifier_is_invoked(
    start: StartBot, slack: FakeSlack, bedrock: FakeHarness
) -> None:
    bot = await start(AGENTCORE_HARNESS_QUALIFIER="staging")
    event = mention("which endpoint?")
    await bot.send_event(event)
    await wait_finished(slack)
    assert bedrock.invocations[0].qualifier == "staging"


async def test_cache_tokens_are_counted_apart_in_the_metrics(
    bot: Bot, slack: FakeSlack, bedrock: FakeHarness
) -> None:
    bedrock.enqueue(Script([Tokens(100, 20, cache_read=800, cache_write=40), Text("Cached.")]))
    event = mention("cached?")
    await bot.send_event(event)
    await wait_finished(slack)

    _, metrics = await bot.get("/metrics")
    assert 'slackbot_agent_tokens_total{direction="input"} 100.0' in metrics
    assert 'slackbot_agent_tokens_total{direction="cache_read"} 800.0' in metrics
    assert 'slackbot_agent_tokens_total{direction="cache_write"} 40.0' in metrics


async def test_an_inline_tool_is_confirmed_in_slack_and_its_result_goes_back_to_the_harness(
    bot: Bot, slack: FakeSlack, bedrock: FakeHarness
) -> None:
    bedrock.enqueue(
        Script([ToolUse("cancel_order", {"orderId": "ORD-1"}, tool_use_id="tu_9")]),
        Script([Text("Order ORD-1 is cancelled.")]),
    )
    event = mention("cancel ORD-1")
    await bot.send_event(event)
    await slack.wait_for(
        lambda: any(buttons(m.blocks) for m in slack.thread("C0CHAN", event["ts"]))
    )
    [question] = slack.thread("C0CHAN", event["ts"])
    assert "cancel_order" in question.visible and "ORD-1" in question.visible

    await press(
        bot, slack, blocks=question.blocks, label="Confirm", channel="C0CHAN", ts=question.ts
    )

    first, resumed = await bedrock.wait_for_invocations(2)
    assert resumed.session_id == first.session_id
    [result] = resumed.tool_results
    assert result["toolUseId"] == "tu_9"
    await slack.wait_for(lambda: "Order ORD-1 is cancelled." in thread_text(slack, event["ts"]))
    assert "Confirmed by <@U0USER>" in thread_text(slack, event["ts"])


async def test_a_confirmed_inline_tool_runs_its_handler_and_the_result_goes_back_as_success(
    start: StartBot, slack: FakeSlack, bedrock: FakeHarness
) -> None:
    bot = await start(ACTION_HANDLERS_MODULE="tests.actions_module")
    lookup = function_input("orders", "lookupOrder", {"orderId": "ORD-7"})
    _, question = await ask_in_channel(bot, slack, bedrock, ReturnControl("inv-h1", [lookup]))
    assert "use the tool *lookupOrder*" in question.visible
    bedrock.enqueue(Script([Text("ORD-7 shipped.")]))

    await press(
        bot, slack, blocks=question.blocks, label="Confirm", channel="C0CHAN", ts=question.ts
    )

    _, resumed = await bedrock.wait_for_invocations(2)
    assert resumed.tool_results == [
        {
            "toolUseId": "inv-h1-0",
            "content": [{"text": '{"orderId": "ORD-7", "status": "shipped"}'}],
            "status": "success",
        }
    ]
    await wait_finished(slack, 2)
    assert "ORD-7 shipped." in slack.thread("C0CHAN", question.thread_ts or "")[-1].visible
