"""Socket Mode (the manifest's default): the same surfaces over Slack's WebSocket, no HTTP."""

from __future__ import annotations

import json
import uuid

from tests.conftest import StartBot
from tests.fakes.signing import event_envelope
from tests.fakes.slack import FakeSlack
from tests.harness import FakeAgent, mention, wait_finished


async def socket_bot(start: StartBot, slack: FakeSlack) -> None:
    await start(SLACK_APP_TOKEN=slack.app_token, SLACK_SIGNING_SECRET="")


async def test_a_mention_over_socket_mode_is_acked_and_answered(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    await socket_bot(start, slack)
    event = mention("over the socket")

    ack = await slack.socket_send("events_api", event_envelope(event))

    assert "envelope_id" in ack
    await wait_finished(slack)
    assert [m.visible.splitlines()[0] for m in slack.thread("C0CHAN", event["ts"])] == [
        "You said: over the socket"
    ]


async def test_the_order_command_over_socket_mode_acks_with_the_looking_up_note(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    await socket_bot(start, slack)
    hook = uuid.uuid4().hex[:8]
    command = {
        "command": "/order",
        "text": "ORD-88421",
        "user_id": "U0ASK",
        "channel_id": "C0CHAN",
        "team_id": "T0001",
        "response_url": slack.response_url(hook),
        "trigger_id": f"t-{hook}",
    }

    ack = await slack.socket_send("slash_commands", command)

    assert ack["payload"] == {"response_type": "ephemeral", "text": "Looking up ORD-88421…"}
    await slack.wait_for(lambda: bool(slack.responses.get(hook)))
    assert "ORD-88421" in json.dumps(slack.responses[hook][0])
