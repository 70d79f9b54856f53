"""Slack Connect: a person from another organisation asks in a shared channel."""

from __future__ import annotations

import asyncio

from tests.fakes.bedrock import Pause, Script, Text
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention


async def test_a_slack_connect_user_s_stream_names_their_own_team(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    release = asyncio.Event()
    bedrock.enqueue(Script([Text("Hello from "), Pause(5, until=release), Text("our side.")]))
    event = mention("hi from a partner org", user="U0GUEST") | {"user_team": "T0PARTNER"}

    await bot.send_event(event)
    [start] = await slack.wait_for_calls("chat.startStream")
    release.set()
    await slack.wait_for(lambda: any(c.ok for c in slack.calls_to("chat.stopStream")))

    assert start.args["recipient_team_id"] == "T0PARTNER", "the asker's team, not ours"
    assert start.args["recipient_user_id"] == "U0GUEST"
    [message] = slack.thread("C0CHAN", event["ts"])
    assert message.visible.startswith("Hello from our side.")
