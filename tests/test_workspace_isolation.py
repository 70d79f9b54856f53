"""OAuth mode: what is kept per workspace, and what an uninstall takes with it."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.slack_budget import WriteBudget
from tests.conftest import StartBot
from tests.fakes.signing import FORM_CONTENT_TYPE, slash_command_body
from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, RedisTarget, mention, wait_finished
from tests.test_installations import ORG, A, B, event_for, install, oauth_env

pytestmark = pytest.mark.both_redis
one_backend = pytest.mark.parametrize("bedrock", ["bedrock-agents"], indirect=True)


async def team_keys(redis_target: RedisTarget, prefix: str, team: str) -> set[str]:
    client = redis_target.client()
    try:
        return {
            k.decode()
            async for k in client.scan_iter(match=f"{prefix}{{{team}:*", count=500)
            if k.decode()
        }
    finally:
        await client.aclose()


async def answered_in_a_and_b(bot: Bot, slack: FakeSlack) -> None:
    await install(bot, slack, A)
    await install(bot, slack, B)
    await bot.post_signed(event_for(A, mention("in A", channel="CA", bot_user_id="UBOTA")))
    await bot.post_signed(event_for(B, mention("in B", channel="CB", bot_user_id="UBOTB")))
    await wait_finished(slack, 2)


async def uninstall(bot: Bot, who_event: str) -> None:
    assert (await bot.post_signed(who_event)).status == 200


@one_backend
async def test_uninstall_with_the_setting_deletes_that_workspaces_conversations_only(
    start: StartBot, slack: FakeSlack, redis_prefix: str, redis_target: RedisTarget
) -> None:
    bot = await start(**oauth_env(slack), DELETE_CONVERSATIONS_ON_UNINSTALL="true")
    await answered_in_a_and_b(bot, slack)
    assert await team_keys(redis_target, redis_prefix, "T0A")
    kept = await team_keys(redis_target, redis_prefix, "T0B")
    assert kept

    slack.oauth.revoke_all(A)
    await uninstall(bot, event_for(A, {"type": "app_uninstalled"}))

    async with asyncio.timeout(10):  # the listener runs after the ack; nothing shows in Slack
        while await team_keys(redis_target, redis_prefix, "T0A"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert await team_keys(redis_target, redis_prefix, "T0B") == kept


@one_backend
async def test_by_default_an_uninstall_keeps_the_conversations(
    start: StartBot, slack: FakeSlack, redis_prefix: str, redis_target: RedisTarget
) -> None:
    bot = await start(**oauth_env(slack))
    await answered_in_a_and_b(bot, slack)
    before = await team_keys(redis_target, redis_prefix, "T0A")
    store = bot.runtime.bolt.installation_store
    assert store is not None

    slack.oauth.revoke_all(A)
    await uninstall(bot, event_for(A, {"type": "app_uninstalled"}))
    async with asyncio.timeout(5):
        while await store.async_find_bot(enterprise_id=None, team_id="T0A") is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    assert before and await team_keys(redis_target, redis_prefix, "T0A") == before


@one_backend
async def test_order_command_of_an_org_wide_install_carries_the_enterprise_id(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(**oauth_env(slack))
    await install(bot, slack, ORG)
    fields = dict(
        parse_qsl(
            slash_command_body(
                "/order",
                "ORD-12345",
                team_id="T01",
                response_url=slack.response_url("org"),
                trigger_id="trig-org",
            )
        )
    )
    fields |= {"enterprise_id": "E0ORG", "is_enterprise_install": "true"}

    response = await bot.post_signed(urlencode(fields), content_type=FORM_CONTENT_TYPE)

    assert response.status == 200
    await bedrock.wait_for_invocations(1)
    [invocation] = bedrock.invocations
    assert invocation.session_attributes["slackEnterpriseId"] == "E0ORG"
    assert invocation.session_attributes["slackTeamId"] == "T01"
    assert invocation.session_attributes["orderId"] == "ORD-12345"
    # Order conversations, like every conversation, are kept per team of the org.
    assert invocation.session_id.startswith("T01:order:")


def test_rate_limit_budgets_are_kept_per_team_so_one_workspace_cannot_slow_another() -> None:
    budget = WriteBudget(base_interval=0.1)

    budget.rate_limited_by_slack("T0A", "chat.update", retry_after=30)

    assert budget.blocked_for("T0A", "chat.update") > 0
    assert budget.blocked_for("T0B", "chat.update") == 0
