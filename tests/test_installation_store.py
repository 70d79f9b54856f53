"""The Redis installation store, state store, sealing and token refresh, against real Redis."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from redis.asyncio import Redis
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.installations import checks, cli
from bot.installations.agents import agent_settings
from bot.installations.authorize import InstallationAuthorize, TokenRefresher, needs_refresh
from bot.installations.crypto import Sealer, parse_keys
from bot.installations.oauth import authorization_url
from bot.installations.state import RedisStateStore
from bot.installations.store import InstalledWorkspace, RedisInstallationStore
from bot.settings import ConfigError, load_settings
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_oauth import Workspace
from tests.harness import REDIS_URL

KEY = Fernet.generate_key().decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """Counts the commands (round trips) a Redis client sends."""

    def __init__(self, redis: Redis) -> None:
        self.commands: list[str] = []
        original = redis.execute_command

        async def execute_command(*args: Any, **options: Any) -> Any:
            self.commands.append(str(args[0]))
            return await original(*args, **options)

        redis.execute_command = execute_command  # type: ignore[method-assign]


@pytest.fixture
async def redis(redis_prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def new_store(
    redis: Redis, prefix: str, clock: Clock | None = None, key: str = KEY
) -> RedisInstallationStore:
    return RedisInstallationStore(
        redis, prefix=prefix, sealer=Sealer([key]), clock=clock or Clock()
    )


def installation(
    team: str | None = "T1", *, enterprise: str | None = None, org_wide: bool = False, **extra: Any
) -> Installation:
    return Installation(
        app_id="A0001",
        enterprise_id=enterprise,
        team_id=team,
        team_name=f"Team {team}",
        bot_token=extra.pop("bot_token", f"xoxb-{team}-secret"),
        bot_id="B1",
        bot_user_id="UBOT1",
        bot_scopes="chat:write",
        user_id="UADMIN",
        is_enterprise_install=org_wide,
        **extra,
    )


def context(*, org_wide: bool = False) -> AsyncBoltContext:
    return AsyncBoltContext({"is_enterprise_install": org_wide})


async def test_a_saved_installation_is_found_by_team_and_its_bot_user_is_known(
    redis: Redis, redis_prefix: str
) -> None:
    store = new_store(redis, redis_prefix)
    await store.async_save(installation("T1"))

    bot = await new_store(redis, redis_prefix).async_find_bot(enterprise_id=None, team_id="T1")
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")

    assert bot is not None and bot.bot_token == "xoxb-T1-secret" and bot.bot_user_id == "UBOT1"
    assert found is not None and found.team_name == "Team T1" and found.user_id == "UADMIN"
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is None


async def test_an_org_wide_install_is_found_for_any_team_of_its_org_only(
    redis: Redis, redis_prefix: str
) -> None:
    store = new_store(redis, redis_prefix)
    await store.async_save(installation(None, enterprise="E1", org_wide=True))

    for team in ("T1", "T2"):
        bot = await store.async_find_bot(
            enterprise_id="E1", team_id=team, is_enterprise_install=True
        )
        assert bot is not None and bot.enterprise_id == "E1"
    assert (
        await store.async_find_bot(enterprise_id="E2", team_id="T1", is_enterprise_install=True)
        is None
    )
    assert await store.async_find_bot(enterprise_id="E1", team_id="T1") is None  # not org-wide


async def test_delete_all_forgets_the_installation_and_its_index_entry(
    redis: Redis, redis_prefix: str
) -> None:
    store = new_store(redis, redis_prefix)
    await store.async_save(installation("T1"))
    await store.async_save(installation("T2"))

    await store.async_delete_all(enterprise_id=None, team_id="T1")

    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert [w.team_id for w in await store.installed()] == ["T2"]
    assert not [k async for k in redis.scan_iter(match=f"{redis_prefix}{{inst:-:T1}}*")]


async def test_records_cannot_be_read_without_the_key_and_a_rotated_key_keeps_them(
    redis: Redis, redis_prefix: str
) -> None:
    old, new = KEY, Fernet.generate_key().decode()
    await new_store(redis, redis_prefix, key=old).async_save(installation("T1"))

    assert (
        await new_store(redis, redis_prefix, key=new).async_find_bot(
            enterprise_id=None, team_id="T1"
        )
        is None
    )
    both = RedisInstallationStore(redis, prefix=redis_prefix, sealer=Sealer([new, old]))
    assert await both.reseal_all() == 3  # bot, latest installer, the installer's own record
    bot = await new_store(redis, redis_prefix, key=new).async_find_bot(
        enterprise_id=None, team_id="T1"
    )
    assert bot is not None and bot.bot_token == "xoxb-T1-secret"


def test_malformed_keys_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="key 2 is not a Fernet key") as refused:
        parse_keys(f"{KEY},not-a-key")
    assert "not-a-key" not in str(refused.value)
    with pytest.raises(ConfigError, match="INSTALLATION_ENCRYPTION_KEY"):
        load_settings(
            slack_client_id="1.2",
            slack_client_secret="s",
            slack_signing_secret="x",
            bedrock_agent_id="A",
            bedrock_agent_alias_id="B",
            installation_encryption_key="",
        )


def test_oauth_mode_needs_no_bot_token_but_both_client_credentials() -> None:
    base: dict[str, Any] = {
        "slack_signing_secret": "x",
        "bedrock_agent_id": "A",
        "bedrock_agent_alias_id": "B",
        "slack_bot_token": "",
    }
    settings = load_settings(
        **base, slack_client_id="1.2", slack_client_secret="s", installation_encryption_key=KEY
    )
    assert settings.oauth_mode and settings.slack_bot_token is None
    with pytest.raises(ConfigError, match="SLACK_CLIENT_SECRET"):
        load_settings(**base, slack_client_id="1.2")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is required"):
        load_settings(**base)


def test_the_consent_page_lives_beside_the_web_api() -> None:
    assert authorization_url("https://slack.com/api/") == "https://slack.com/oauth/v2/authorize"
    assert authorization_url("http://127.0.0.1:9/api/") == "http://127.0.0.1:9/oauth/v2/authorize"


async def test_a_state_works_once_and_junk_never_reaches_redis(
    redis: Redis, redis_prefix: str
) -> None:
    states = RedisStateStore(redis, prefix=redis_prefix)
    state = await states.async_issue()
    assert 0 < await redis.ttl(states.key(state)) <= 600
    counted = Counting(redis)

    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
    assert await states.async_consume("../../etc") is False
    assert counted.commands == ["GETDEL", "GETDEL"]


async def test_an_authorised_event_costs_no_redis_round_trip_while_cached(
    redis: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    store = new_store(redis, redis_prefix, clock)
    await new_store(redis, redis_prefix).async_save(installation("T1"))
    authorize = InstallationAuthorize(
        store=store,
        refresher=TokenRefresher(
            store=store, rotator=AsyncTokenRotator(client_id="1", client_secret="s")
        ),
    )
    counted = Counting(redis)

    for _ in range(100):
        result = await authorize(context=context(), enterprise_id=None, team_id="T1", user_id="U1")
        assert result is not None and result.bot_token == "xoxb-T1-secret"
    assert counted.commands == ["GET"]  # the first event only; no auth.test either
    clock.now += 11
    await authorize(context=context(), enterprise_id=None, team_id="T1", user_id="U1")
    assert counted.commands == ["GET", "GET"]


async def test_one_replica_refreshes_an_expiring_token_and_the_others_read_it(
    redis: Redis, redis_prefix: str
) -> None:
    async with FakeSlack() as slack:
        slack.oauth.rotation = True
        slack.oauth.next_install = Workspace("T1", "Team T1")
        status, location = slack.oauth.authorize(
            {"client_id": slack.oauth.client_id, "redirect_uri": "http://x/cb", "state": "s"}
        )
        assert status == 302
        granted = slack.oauth.access(
            {
                "code": location.split("code=")[1].split("&")[0],
                "client_id": slack.oauth.client_id,
                "client_secret": slack.oauth.client_secret,
            },
            "",
        )
        client = AsyncWebClient(base_url=slack.api_url)
        rotator = AsyncTokenRotator(
            client_id=slack.oauth.client_id, client_secret=slack.oauth.client_secret, client=client
        )
        expired_bot = installation(
            "T1",
            bot_token=granted["access_token"],
            bot_refresh_token=granted["refresh_token"],
            bot_token_expires_at=int(time.time()) - 60,
        )
        await new_store(redis, redis_prefix).async_save(expired_bot)
        replicas = [new_store(redis, redis_prefix) for _ in range(5)]
        refreshers = [TokenRefresher(store=s, rotator=rotator) for s in replicas]
        bots = [await s.async_find_bot(enterprise_id=None, team_id="T1") for s in replicas]
        slack.oauth.refresh_gate = gate = asyncio.Event()

        tasks = [
            asyncio.create_task(r.fresh(b)) for r, b in zip(refreshers, bots, strict=True) if b
        ]
        await asyncio.wait_for(slack.oauth.refresh_requested.wait(), 5)
        gate.set()
        fresh = await asyncio.gather(*tasks)

    assert slack.oauth.grants == ["code", "refresh_token"]  # one refresh for five replicas
    tokens = {b.bot_token for b in fresh if b is not None}
    assert len(tokens) == 1 and tokens != {granted["access_token"]}
    assert all(
        b is not None and not needs_refresh(b, now=time.time(), minutes_before=120) for b in fresh
    )


async def test_a_refresh_slack_refuses_yields_no_token(redis: Redis, redis_prefix: str) -> None:
    async with FakeSlack() as slack:
        rotator = AsyncTokenRotator(
            client_id=slack.oauth.client_id,
            client_secret=slack.oauth.client_secret,
            client=AsyncWebClient(base_url=slack.api_url),
        )
        store = new_store(redis, redis_prefix)
        bot = installation(
            "T1", bot_refresh_token="xoxe-1-revoked", bot_token_expires_at=int(time.time()) - 1
        ).to_bot()
        await store.async_save_bot(bot)
        refresher = TokenRefresher(store=store, rotator=rotator)
        assert await refresher.fresh(bot) is None
        assert await refresher.fresh(bot) is None
    assert len(slack.calls_to("oauth.v2.access")) == 1  # not asked again on every event


def test_installations_list_line_names_the_workspace_and_never_a_token() -> None:
    line = cli.describe(InstalledWorkspace("E1", "Grid", None, None, True, True, 0.0))
    assert line == "org Grid (E1), org-wide: installed 1970-01-01 00:00 UTC, token rotation"


def test_redirect_url_must_reach_the_callback_over_https() -> None:
    assert checks.redirect_check("https://bot.example.com/slack/oauth_redirect").status.name == "OK"
    assert (
        checks.redirect_check("http://bot.example.com/slack/oauth_redirect").status.name == "FAIL"
    )
    assert checks.redirect_check("https://bot.example.com/oauth").status.name == "FAIL"
    assert checks.redirect_check(None).status.name == "OK"


def test_new_key_prints_a_usable_fernet_key() -> None:
    out = io.StringIO()
    assert cli.main(["new-key"], out=out) == 0
    assert parse_keys(out.getvalue().strip())


def test_workspace_agents_name_an_agent_alias_or_a_runtime_and_nothing_else() -> None:
    arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/r-1"
    assert agent_settings(arn)["agentcore_runtime_arn"] == arn
    assert agent_settings("AGENT12345/ALIAS12345")["bedrock_agent_alias_id"] == "ALIAS12345"
    base: dict[str, Any] = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "x"}
    base |= {"bedrock_agent_id": "A", "bedrock_agent_alias_id": "B"}
    assert load_settings(**base, workspace_agents=f'{{"E1": "{arn}"}}').workspace_agents == {
        "E1": arn
    }
    with pytest.raises(ConfigError, match="WORKSPACE_AGENTS T1: must be AGENTID/ALIASID"):
        load_settings(**base, workspace_agents='{"T1": "nope"}')
    with pytest.raises(ConfigError, match="WORKSPACE_AGENTS must be JSON"):
        load_settings(**base, workspace_agents="{")


async def test_a_redis_outage_refuses_installs_cleanly_and_finds_nothing() -> None:
    from slack_bolt.error import BoltError

    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    store = new_store(down, "test:down:")
    try:
        with pytest.raises(BoltError, match="could not store the installation"):
            await store.async_save(installation("T1"))  # Bolt shows its failure page
        assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
        assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
        await store.async_delete_all(enterprise_id=None, team_id="T1")  # logged, not raised
        assert await RedisStateStore(down, prefix="test:down:").async_consume("a" * 43) is False
    finally:
        await down.aclose()


async def test_during_an_outage_a_recently_seen_token_keeps_answering(
    redis: Redis, redis_prefix: str
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    class Flaky:
        down = False

        async def get(self, key: str) -> Any:
            if self.down:
                raise RedisConnectionError("down")
            return await redis.get(key)

    await new_store(redis, redis_prefix).async_save(installation("T1"))
    clock, flaky = Clock(), Flaky()
    store = RedisInstallationStore(flaky, prefix=redis_prefix, sealer=Sealer([KEY]), clock=clock)  # type: ignore[arg-type]
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is not None
    flaky.down, clock.now = True, clock.now + 60  # cache expired, Redis gone

    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")

    assert bot is not None and bot.bot_token == "xoxb-T1-secret"
