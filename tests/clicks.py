"""Clicking Block Kit buttons the way Slack does, for the confirmation tests."""

from __future__ import annotations

import uuid
from typing import Any

from bot.actions.logic import DENIED_BODY
from bot.agents.harness import DECLINED_RESULT
from tests.fakes.agentcore import FakeAgentCoreRuntime
from tests.fakes.bedrock import Interrupt, ReturnControl, Script
from tests.fakes.harness import FakeHarness
from tests.fakes.signing import FORM_CONTENT_TYPE, interaction_body
from tests.fakes.slack import FakeSlack, Message
from tests.harness import Bot, FakeAgent, finished_answers, mention, wait_finished


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(block_id, button) of every button in `blocks`, in order."""
    return [
        (block["block_id"], element)
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("type") == "button"
    ]


def click_payload(
    slack: FakeSlack,
    *,
    blocks: list[dict[str, Any]],
    label: str,
    channel: str,
    ts: str,
    user: str = "U0USER",
    nth: int = 0,
    ephemeral: bool = False,
) -> tuple[dict[str, Any], str]:
    """The `block_actions` payload of clicking the `nth` button labelled `label`, as Slack
    sends it, and the id under which its response_url records posts."""
    block_id, button = [(b, e) for b, e in buttons(blocks) if e["text"]["text"] == label][nth]
    hook = uuid.uuid4().hex[:8]
    container: dict[str, Any] = {"type": "message", "message_ts": ts, "channel_id": channel}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": user, "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "verification-token",
        "trigger_id": f"trig-{hook}",
        "response_url": slack.response_url(hook),
        "channel": {"id": channel},
        "container": container | ({"is_ephemeral": True} if ephemeral else {}),
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": block_id,
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": "1700000001.000001",
            }
        ],
    }
    if not ephemeral:  # Slack echoes the message only when it is not ephemeral
        payload["message"] = {"ts": ts, "text": "", "blocks": blocks, "type": "message"}
    return payload, hook


async def press(bot: Bot, slack: FakeSlack, **click: Any) -> str:
    """Click over signed HTTP (see `click_payload`); returns the response_url id."""
    payload, hook = click_payload(slack, **click)
    response = await bot.post_signed(interaction_body(payload), content_type=FORM_CONTENT_TYPE)
    assert response.status == 200
    return hook


async def ask_in_channel(
    bot: Bot, slack: FakeSlack, agent: FakeAgent, *pause: ReturnControl | Interrupt
) -> tuple[dict[str, Any], Message]:
    """Mention the bot; the agent pauses with `pause`; returns (question event, message)."""
    agent.enqueue(Script(list(pause)))
    event = mention("cancel my order ORD-88421")
    before = finished_answers(slack)
    await bot.send_event(event)
    await wait_finished(slack, before + 1)
    [message] = slack.thread("C0CHAN", event["ts"])
    return event, message


async def metric(bot: Bot, outcome: str) -> float:
    _, text = await bot.get("/metrics")
    line = f'slackbot_confirmations_total{{outcome="{outcome}"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else 0.0


def decisions(agent: FakeAgent, resumed: Any) -> dict[str, str]:
    """What went back to the agent in the resuming invocation `resumed`, per paused input:
    CONFIRM or DENY — Bedrock's confirmationState, an AgentCore interrupt's answer, or (harness)
    a toolResult that says the user declined."""
    if isinstance(agent, FakeAgentCoreRuntime):
        answers = resumed.interrupt_responses or {}
        return {key: {"y": "CONFIRM", "n": "DENY"}[value] for key, value in answers.items()}
    if isinstance(agent, FakeHarness):
        declined = [[{"text": DENIED_BODY}], [{"text": DECLINED_RESULT}]]
        return {
            r["toolUseId"]: "DENY" if r["content"] in declined else "CONFIRM"
            for r in resumed.tool_results
        }
    results = [next(iter(r.values())) for r in resumed.return_control_results]
    return {f"{resumed.invocation_id}-{n}": r["confirmationState"] for n, r in enumerate(results)}
