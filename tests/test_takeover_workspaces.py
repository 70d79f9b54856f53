"""OAuth mode × work no Slack request carries (so no token comes with it): the turn of a dead
replica, and a confirmation another replica expires, speak with their own workspace's token."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import StartBot
from tests.fakes.bedrock import FakeBedrockAgentRuntime, Pause, ReturnControl, Script, Text
from tests.fakes.slack import FakeSlack
from tests.harness import mention, wait_finished
from tests.test_actions import CANCEL_ORDER
from tests.test_installations import A, B, event_for, install, oauth_env, token_of
from tests.test_takeover import ASKED_TS, Replicas, assert_taken_over, replicas_with

pytestmark = pytest.mark.bedrock_only("takeover is the same for every agent backend")


@dataclass(frozen=True)
class Browsed:
    """What `install` needs of a bot: where it listens."""

    url: str


@pytest.fixture
async def oauth_replicas(
    bot_environment: dict[str, str], slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[Replicas]:
    env = os.environ | bot_environment | oauth_env(slack)
    async with replicas_with(env, tmp_path) as make:
        yield make


async def test_in_oauth_mode_a_turn_taken_over_is_answered_with_its_own_workspace_token(
    oauth_replicas: Replicas, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    bedrock.enqueue(Script([Text("Partly answered, "), Pause(120)]))
    dying, survivor = oauth_replicas(), oauth_replicas()
    await asyncio.gather(dying.start(), survivor.start())
    # Installed through different replicas: the survivor finds A's token in the shared store.
    assert (await install(Browsed(f"http://127.0.0.1:{dying.port}"), slack, A))[0] == 200  # type: ignore[arg-type]
    assert (await install(Browsed(f"http://127.0.0.1:{survivor.port}"), slack, B))[0] == 200  # type: ignore[arg-type]
    question = mention("what is A's leave policy?", channel="CA", bot_user_id="UBOTA", ts=ASKED_TS)

    await dying.post(event_for(A, question))
    await slack.wait_for(lambda: any("Partly" in m.visible for m in slack.thread("CA", ASKED_TS)))
    await dying.kill()
    killed_at = len(slack.calls)

    await assert_taken_over(slack, bedrock, question)
    assert "continued below" in slack.thread("CA", ASKED_TS)[0].visible
    takeover = slack.calls[killed_at:]
    assert {c.method for c in takeover} >= {"chat.stopStream", "reactions.remove"}
    assert not [c for c in takeover if c.response.get("error") == "not_authed"]
    assert {c.token for c in takeover if c.method.startswith(("chat.", "reactions."))} <= (
        token_of(slack, A)
    )
    first, again = bedrock.invocations[:2]
    assert again.session_attributes["slackTeamId"] == first.session_attributes["slackTeamId"]
    assert again.session_id.startswith("T0A:CA:")


@pytest.mark.parametrize("bedrock", ["bedrock-agents"], indirect=True)
async def test_in_oauth_mode_another_replica_expires_a_confirmation_with_its_workspace_token(
    start: StartBot, slack: FakeSlack, bedrock: FakeBedrockAgentRuntime
) -> None:
    first = await start(**oauth_env(slack), CONFIRM_TIMEOUT_SECONDS="2")
    await install(first, slack, A)
    bedrock.enqueue(Script([ReturnControl("inv-oauth", [CANCEL_ORDER])]))
    question = mention("cancel my order ORD-88421", channel="CA", bot_user_id="UBOTA")
    await first.post_signed(event_for(A, question))
    await wait_finished(slack, 1)
    [message] = slack.thread("CA", question["ts"])
    assert first.runtime.services.actions is not None
    await first.runtime.services.actions.close()  # its timers die with it, as in a crash

    await start(**oauth_env(slack), CONFIRM_TIMEOUT_SECONDS="2")

    await slack.wait_for(lambda: "expired — ask again" in message.visible, timeout=10)
    edits = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == message.ts]
    assert edits and {c.token for c in edits} <= token_of(slack, A)
    assert all(c.ok for c in edits)
