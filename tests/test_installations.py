"""End to end, OAuth mode: workspaces install through the HTTP flow and are answered apart.

A browser (an aiohttp client with a cookie jar) opens /slack/install, follows "Add to Slack" to
the fake Slack's consent page, which redirects back to /slack/oauth_redirect with a code; the bot
exchanges it (oauth.v2.access) and stores the installation. Events then arrive signed, per
workspace, and every Slack call the bot makes is checked for the token it carried.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import os
import re
import sys
from collections.abc import Callable

import aiohttp
import pytest
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from tests.conftest import StartBot
from tests.fakes.signing import event_envelope
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_oauth import Workspace
from tests.harness import REDIS_URL, Bot, FakeAgent, mention, wait_finished

pytestmark = pytest.mark.parametrize("bedrock", ["bedrock-agents"], indirect=True)

KEY = Fernet.generate_key().decode()
A = Workspace("T0A", "Workspace A", bot_user_id="UBOTA", bot_id="BBOTA")
B = Workspace("T0B", "Workspace B", bot_user_id="UBOTB", bot_id="BBOTB")
ORG = Workspace(
    None, "", enterprise_id="E0ORG", enterprise_name="Grid Org", org_wide=True, bot_user_id="UBOTE"
)
WRITES = (
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "reactions.add",
    "reactions.remove",
)


def oauth_env(slack: FakeSlack) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": slack.oauth.client_id,
        "SLACK_CLIENT_SECRET": slack.oauth.client_secret,
        "INSTALLATION_ENCRYPTION_KEY": KEY,
    }


async def install(bot: Bot, slack: FakeSlack, who: Workspace) -> tuple[int, str]:
    """What an admin's browser does: install page → Slack's consent → back to the bot."""
    slack.oauth.next_install = who
    slack.oauth.redirect_url = f"{bot.url}/slack/oauth_redirect"
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[bot.url])
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{bot.url}/slack/install") as page:
            assert page.status == 200
            link = re.search(r'<a href="([^"]+)"', await page.text())
        assert link is not None, "the install page has an Add to Slack link"
        async with browser.get(html.unescape(link.group(1))) as done:
            return done.status, await done.text()


def event_for(who: Workspace, event: dict[str, object], *, team: str | None = None) -> str:
    team_id = team or who.team_id or "T0X"
    envelope = event_envelope(event, team_id=team_id, bot_user_id=who.bot_user_id)
    envelope["authorizations"][0] |= {
        "enterprise_id": who.enterprise_id,
        "is_enterprise_install": who.org_wide,
    }
    if who.enterprise_id:
        envelope["enterprise_id"] = who.enterprise_id
    return json.dumps(envelope)


def token_of(slack: FakeSlack, who: Workspace) -> set[str]:
    return {t for t, issued in slack.oauth.tokens.items() if issued.workspace == who}


def writes_in(slack: FakeSlack, channel: str) -> list[str]:
    """The tokens of every answer write the bot made in `channel`."""
    return [
        c.token
        for c in slack.calls
        if c.method in WRITES and c.args.get("channel") == channel and c.ok
    ]


@pytest.fixture
async def oauth_bot(start: StartBot, slack: FakeSlack) -> Bot:
    return await start(**oauth_env(slack))


async def test_install_page_asks_slack_for_the_manifest_scopes(
    oauth_bot: Bot, slack: FakeSlack
) -> None:
    status, page = await install(oauth_bot, slack, A)

    assert status == 200
    assert "slack://app?team=T0A" in page  # the success page opens the app in Slack
    [consent] = slack.oauth.consents
    from bot.doctor import BOT_SCOPES

    assert set(consent["scope"].split(",")) == BOT_SCOPES
    assert consent["client_id"] == slack.oauth.client_id
    assert slack.oauth.grants == ["code"]


async def test_two_workspaces_are_answered_each_with_its_own_token_and_kept_apart(
    oauth_bot: Bot, slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    assert (await install(oauth_bot, slack, A))[0] == 200
    assert (await install(oauth_bot, slack, B))[0] == 200
    in_a = mention("refund policy in A?", channel="CA", bot_user_id="UBOTA")
    in_b = mention("refund policy in B?", channel="CB", bot_user_id="UBOTB")

    responses = await asyncio.gather(
        oauth_bot.post_signed(event_for(A, in_a)), oauth_bot.post_signed(event_for(B, in_b))
    )

    assert [r.status for r in responses] == [200, 200]
    await wait_finished(slack, 2)
    assert slack.thread("CA", in_a["ts"]) and slack.thread("CB", in_b["ts"])
    assert set(writes_in(slack, "CA")) == token_of(slack, A)
    assert set(writes_in(slack, "CB")) == token_of(slack, B)
    by_team = {i.session_attributes["slackTeamId"]: i for i in bedrock.invocations}
    assert set(by_team) == {"T0A", "T0B"}
    assert "in A" in by_team["T0A"].input_text and "in B" in by_team["T0B"].input_text
    assert by_team["T0A"].session_id.startswith("T0A:CA:")
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = {k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")}
    finally:
        await redis.aclose()
    conversations = {k for k in keys if "CA" in k or "CB" in k}
    assert any("T0A:CA" in k for k in conversations) and any("T0B:CB" in k for k in conversations)
    assert not any("T0A:CB" in k or "T0B:CA" in k for k in conversations)


async def test_installations_are_sealed_at_rest_under_one_hash_tag_each(
    oauth_bot: Bot, slack: FakeSlack, redis_prefix: str
) -> None:
    await install(oauth_bot, slack, A)

    [token] = token_of(slack, A)
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = sorted([k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}{{inst:*")])
        values = [await redis.get(k) for k in keys if not k.endswith(":users")]
    finally:
        await redis.aclose()
    tag = f"{redis_prefix}{{inst:-:T0A}}:"
    assert keys and all(k.startswith(tag) for k in keys)
    assert {k.removeprefix(tag) for k in keys} == {"bot", "installer", "installer:UADMIN", "users"}
    for value in values:
        assert value is not None and token.encode() not in value and b"T0A" not in value
        assert json.loads(Fernet(KEY).decrypt(value))["team_id"] == "T0A"


async def test_an_org_wide_install_answers_two_teams_of_the_org(
    oauth_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    await install(oauth_bot, slack, ORG)
    one = mention("from team one", channel="C1", bot_user_id="UBOTE")
    two = mention("from team two", channel="C2", bot_user_id="UBOTE")

    await oauth_bot.post_signed(event_for(ORG, one, team="T01"))
    await oauth_bot.post_signed(event_for(ORG, two, team="T02"))

    await wait_finished(slack, 2)
    [org_token] = token_of(slack, ORG)
    assert set(writes_in(slack, "C1")) == {org_token} == set(writes_in(slack, "C2"))
    attributes = [i.session_attributes for i in bedrock.invocations]
    assert {a["slackTeamId"] for a in attributes} == {"T01", "T02"}
    assert {a["slackEnterpriseId"] for a in attributes} == {"E0ORG"}


async def test_a_forged_or_replayed_state_is_refused_and_nothing_is_installed(
    oauth_bot: Bot, slack: FakeSlack
) -> None:
    async with aiohttp.ClientSession() as browser:
        forged = (
            f"{oauth_bot.url}/slack/oauth_redirect?code=code-1&state=forged-state-0123456789abcdef"
        )
        cookie = {"Cookie": "slack-app-oauth-state=forged-state-0123456789abcdef"}
        async with browser.get(forged, headers=cookie) as refused:
            assert refused.status == 401
        async with browser.get(f"{oauth_bot.url}/slack/oauth_redirect?code=x") as no_state:
            assert no_state.status == 400
    assert slack.calls_to("oauth.v2.access") == []

    await install(oauth_bot, slack, A)
    [consent] = slack.oauth.consents
    state = consent["state"]
    replay = f"{oauth_bot.url}/slack/oauth_redirect?code=whatever&state={state}"
    cookie = {"Cookie": f"slack-app-oauth-state={state}"}
    async with aiohttp.ClientSession() as browser, browser.get(replay, headers=cookie) as again:
        assert again.status == 401  # a state works once
    assert slack.oauth.grants == ["code"]


async def test_uninstall_deletes_the_installation_and_a_reinstall_works(
    oauth_bot: Bot, slack: FakeSlack
) -> None:
    await install(oauth_bot, slack, A)
    store = oauth_bot.runtime.bolt.installation_store
    assert store is not None
    assert await store.async_find_bot(enterprise_id=None, team_id="T0A") is not None

    slack.oauth.revoke_all(A)
    gone = await oauth_bot.post_signed(event_for(A, {"type": "app_uninstalled"}))

    assert gone.status == 200
    async with asyncio.timeout(5):  # the listener runs after the ack
        # Nothing in Slack shows the deletion: poll the store itself, with a deadline.
        while await store.async_find_bot(enterprise_id=None, team_id="T0A") is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    question = mention("still there?", channel="CA", bot_user_id="UBOTA")
    await oauth_bot.post_signed(event_for(A, question))
    assert slack.thread("CA", question["ts"]) == []

    await install(oauth_bot, slack, A)
    again = mention("back again?", channel="CA", bot_user_id="UBOTA")
    await oauth_bot.post_signed(event_for(A, again))
    await wait_finished(slack, 1)
    assert slack.thread("CA", again["ts"])
    live = {t for t in token_of(slack, A) if slack.oauth.problem(t) is None}
    assert set(writes_in(slack, "CA")) == live


async def test_an_expiring_token_is_refreshed_once_while_a_second_replica_answers(
    start: StartBot, slack: FakeSlack
) -> None:
    first = await start(**oauth_env(slack))
    second = await start(**oauth_env(slack))
    slack.oauth.rotation = True
    slack.oauth.expires_in = 3600  # inside the 2-hour refresh window: the next event refreshes
    await install(first, slack, A)
    [old] = token_of(slack, A)
    gate = slack.oauth.refresh_gate = asyncio.Event()  # Slack is slow to answer the refresh
    try:
        # The refresh runs behind the answer: the ack does not wait for it.
        assert (await first.post_signed(event_for(A, question("first replica")))).status == 200
        await asyncio.wait_for(slack.oauth.refresh_requested.wait(), 5)
        await second.post_signed(event_for(A, question("second replica")))
        await wait_finished(slack, 2)
        assert set(writes_in(slack, "CA")) == {old}  # still valid: both answered meanwhile
    finally:
        gate.set()
    new = await stored_token(first, lambda token: token != old)
    assert new.startswith("xoxe.xoxb-") and slack.oauth.problem(new) is None

    await first.post_signed(event_for(A, question("after the refresh")))
    await wait_finished(slack, 3)
    await second.post_signed(event_for(A, question("second replica, token cached")))
    await wait_finished(slack, 4)
    assert await stored_token(second, lambda token: token == new) == new  # re-read, not refreshed
    await second.post_signed(event_for(A, question("second replica, re-read")))
    await wait_finished(slack, 5)

    assert [c.token for c in slack.calls if c.method == "chat.stopStream"] == [old] * 2 + [
        new,
        old,
        new,
    ]
    assert slack.oauth.grants == ["code", "refresh_token"]  # one refresh for both replicas


def question(text: str) -> dict[str, object]:
    return mention(text, channel="CA", bot_user_id="UBOTA")


async def stored_token(bot: Bot, wanted: Callable[[str], bool]) -> str:
    """The token `bot`'s store hands out once it satisfies `wanted` (refreshes run behind)."""
    store = bot.runtime.bolt.installation_store
    assert store is not None
    async with asyncio.timeout(5):
        while True:
            found = await store.async_find_bot(enterprise_id=None, team_id="T0A")
            if found is not None and wanted(found.bot_token):
                return found.bot_token
            await asyncio.sleep(0.02)


async def test_an_event_from_a_workspace_that_never_installed_gets_no_answer(
    oauth_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    stranger = mention("hello?", channel="CZ")

    response = await oauth_bot.post_signed(event_for(Workspace("T0Z"), stranger))

    assert response.status == 200
    assert bedrock.invocations == [] and slack.thread("CZ", stranger["ts"]) == []


async def test_doctor_in_oauth_mode_checks_the_client_the_redirect_and_the_key(
    slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    from bot.doctor import doctor
    from tests.fakes.bedrock_control import FakeBedrockAgentControl
    from tests.harness import bot_env, patched_env

    control = FakeBedrockAgentControl()
    await control.start()
    env = bot_env(slack, bedrock, redis_prefix) | oauth_env(slack)
    env |= {"AWS_ENDPOINT_URL_BEDROCK_AGENT": control.url, "SESSION_IDLE_SECONDS": "3600"}
    redirect = {"SLACK_REDIRECT_URI": "https://bot.example.com/slack/oauth_redirect"}

    async def report(**overrides: str) -> tuple[int, str]:
        out = io.StringIO()
        with patched_env(env | redirect | overrides):
            code = await doctor(out=out)
        return code, out.getvalue()

    try:
        code, good = await report()
        _, bad = await report(
            SLACK_CLIENT_SECRET="wrong",
            SLACK_REDIRECT_URI="http://bot.example.com/slack/oauth_redirect",
        )
    finally:
        await control.stop()
    assert code == 0, good
    assert "✓ slack oauth client — Slack accepts SLACK_CLIENT_ID 1111.2222" in good
    assert "✓ oauth redirect — https://bot.example.com/slack/oauth_redirect" in good
    assert "✓ encryption key — 1 key(s) valid" in good
    assert "OAuth mode" in good.splitlines()[0]
    _, bad = await report(
        SLACK_CLIENT_SECRET="wrong",
        SLACK_REDIRECT_URI="http://bot.example.com/slack/oauth_redirect",
    )
    assert "✗ slack oauth client — oauth.v2.access answered bad_client_secret" in bad
    assert "✗ oauth redirect" in bad and "wrong" not in bad
    assert slack.oauth.grants == []  # the probe code installs nothing


async def test_python_m_bot_installations_lists_what_is_installed_and_no_token(
    oauth_bot: Bot, slack: FakeSlack, bedrock: FakeAgent, redis_prefix: str
) -> None:
    from tests.harness import bot_env

    await install(oauth_bot, slack, A)
    await install(oauth_bot, slack, ORG)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "installations"),
        env=os.environ | bot_env(slack, bedrock, redis_prefix) | oauth_env(slack),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert "Workspace A (T0A): installed" in text
    assert "org Grid Org (E0ORG), org-wide: installed" in text
    assert "2 installation(s)" in text
    assert not any(token in text for token in slack.oauth.tokens)


async def test_a_workspace_with_its_own_agent_is_answered_by_that_agent(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    agents = json.dumps({"T0B": "AGENT2BBBB/ALIAS2BBBB"})
    bot = await start(**oauth_env(slack), WORKSPACE_AGENTS=agents)
    await install(bot, slack, A)
    await install(bot, slack, B)

    await bot.post_signed(event_for(A, mention("a?", channel="CA", bot_user_id="UBOTA")))
    await bot.post_signed(event_for(B, mention("b?", channel="CB", bot_user_id="UBOTB")))

    await wait_finished(slack, 2)
    chosen = {
        i.session_attributes["slackTeamId"]: (i.agent_id, i.alias_id) for i in bedrock.invocations
    }
    assert chosen == {"T0A": ("AGENT12345", "ALIAS12345"), "T0B": ("AGENT2BBBB", "ALIAS2BBBB")}


async def test_a_confirm_click_in_a_workspace_resumes_with_that_workspaces_token(
    oauth_bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    from tests.clicks import buttons, click_payload
    from tests.fakes.bedrock import ReturnControl, Script, function_input
    from tests.fakes.signing import FORM_CONTENT_TYPE, interaction_body

    await install(oauth_bot, slack, A)
    await install(oauth_bot, slack, B)
    pause = ReturnControl("inv-1", [function_input("orders", "cancelOrder", {"orderId": "ORD-1"})])
    bedrock.enqueue(Script([pause]), Script.answer("Order ORD-1 is cancelled."))
    asked = mention("cancel my order ORD-1", channel="CB", bot_user_id="UBOTB")
    await oauth_bot.post_signed(event_for(B, asked))
    await wait_finished(slack, 1)
    [message] = slack.thread("CB", asked["ts"])
    payload, _ = click_payload(
        slack, blocks=message.blocks, label="Confirm", channel="CB", ts=message.ts
    )
    payload["team"]["id"] = payload["user"]["team_id"] = "T0B"

    clicked = await oauth_bot.post_signed(interaction_body(payload), content_type=FORM_CONTENT_TYPE)

    assert clicked.status == 200
    await wait_finished(slack, 2)
    assert not buttons(message.blocks) and "Confirmed by <@U0USER>" in message.visible
    [b_token] = token_of(slack, B)
    touched = [c for c in slack.calls if c.args.get("channel") == "CB" and c.method != "auth.test"]
    assert touched and {c.token for c in touched} == {b_token}
