"""OAuth mode assembly: Bolt's install flow over our Redis stores, its HTTP routes, and the
binding of each request's own workspace client.

Bolt's `AsyncOAuthFlow` does the protocol (install page with "Add to Slack", `state` cookie,
`oauth.v2.access`, success page that opens the app in Slack); this module only wires it.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web
from redis.exceptions import RedisError
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot import formatting
from bot.doctor import BOT_SCOPES
from bot.installations.authorize import InstallationAuthorize, TokenRefresher
from bot.installations.crypto import Sealer, parse_keys
from bot.installations.routing import bind_request_clients
from bot.installations.state import STATE_SECONDS, RedisStateStore
from bot.installations.store import RedisInstallationStore
from bot.memory.client import Client as RedisClient
from bot.settings import Settings

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


def authorization_url(api_url: str) -> str:
    """Pure: Slack's consent page beside its Web API (https://slack.com/api/ → …/oauth/v2/authorize),
    so GovSlack and test servers work with SLACK_API_URL alone."""
    base = api_url.removesuffix("/").removesuffix("/api")
    return f"{base}/oauth/v2/authorize"


def build_stores(settings: Settings, redis: RedisClient) -> RedisInstallationStore:
    key = settings.installation_encryption_key
    assert key is not None, "settings require INSTALLATION_ENCRYPTION_KEY in OAuth mode"
    sealer = Sealer(parse_keys(key.get_secret_value()))
    return RedisInstallationStore(redis, prefix=settings.redis_key_prefix, sealer=sealer)


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    log.info(
        "workspace installed",
        extra={
            "team": installation.team_id,
            "enterprise_id": installation.enterprise_id,
            "org_wide": installation.is_enterprise_install,
            "rotating": installation.bot_refresh_token is not None,
        },
    )
    return await args.default.success(args)


async def _install_failed(args: AsyncFailureArgs) -> BoltResponse:
    """Bolt's failure page, logged with a reference; a storage failure is a 503, not a 500."""
    reference = formatting.new_reference()
    log.warning(
        "installation refused",
        extra={"reason": args.reason, "reference": reference, "status": args.suggested_status_code},
    )
    if args.suggested_status_code >= 500:
        args.suggested_status_code = 503
    return await args.default.failure(args)


def build_authorize(
    settings: Settings, *, redis: RedisClient, client: AsyncWebClient
) -> InstallationAuthorize:
    """Our `authorize` (installation store, cache, token refresh), built once per process and
    shared by Bolt and the work that runs outside requests (bot/installations/workspaces.py)."""
    assert settings.slack_client_id and settings.slack_client_secret is not None
    secret = settings.slack_client_secret.get_secret_value()
    store = build_stores(settings, redis)
    rotator = AsyncTokenRotator(
        client_id=settings.slack_client_id, client_secret=secret, client=client
    )
    return InstallationAuthorize(
        store=store, refresher=TokenRefresher(store=store, rotator=rotator)
    )


def oauth_app_arguments(
    settings: Settings,
    *,
    redis: RedisClient,
    client: AsyncWebClient,
    authorize: InstallationAuthorize | None = None,
) -> dict[str, Any]:
    """The AsyncApp arguments of OAuth mode: install flow settings and our `authorize`."""
    assert settings.slack_client_id and settings.slack_client_secret is not None
    authorize = authorize or build_authorize(settings, redis=redis, client=client)
    store = authorize.store
    oauth_settings = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=sorted(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        callback_options=AsyncCallbackOptions(success=_installed, failure=_install_failed),
        authorization_url=authorization_url(settings.slack_api_url),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=RedisStateStore(redis, prefix=settings.redis_key_prefix),
        state_expiration_seconds=STATE_SECONDS,
        logger=logging.getLogger("slack_bolt.oauth"),
    )
    return {"oauth_settings": oauth_settings, "installation_store": store, "authorize": authorize}


def enable_oauth_mode(app: AsyncApp) -> None:
    """Each request's listeners use its workspace's client."""
    bind_request_clients(app)  # app_uninstalled / tokens_revoked: handlers/lifecycle.py


def add_oauth_routes(web_app: web.Application, app: AsyncApp) -> None:
    flow = app.oauth_flow
    assert flow is not None, "OAuth mode builds the app with oauth_settings"

    async def install(request: web.Request) -> web.Response:
        try:
            return await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )
        except (RedisError, OSError) as exc:
            return _unavailable("install page", exc)

    async def redirect(request: web.Request) -> web.Response:
        try:
            return await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )
        except (RedisError, OSError, aiohttp.ClientError) as exc:
            return _unavailable("OAuth callback", exc)

    web_app.router.add_get(INSTALL_PATH, install)
    web_app.router.add_get(REDIRECT_PATH, redirect)


def _unavailable(what: str, exc: Exception) -> web.Response:
    reference = formatting.new_reference()
    log.error(f"{what} failed", extra={"reference": reference, "error": type(exc).__name__})
    text = f"The installation could not be completed right now; please try again. (ref {reference})"
    return web.Response(status=503, text=text)
