"""`python -m bot doctor` in OAuth mode: the client credentials, the redirect URL, the key.

The credentials are checked the way Slack itself reports them: `oauth.v2.access` with a code
that cannot be valid answers `invalid_code` when the client id and secret are right, and
`invalid_client_id` / `bad_client_secret` when they are not. No installation is touched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.doctor import Check, Status, fail, ok, warn
from bot.installations.crypto import InvalidToken, Sealer, parse_keys
from bot.installations.oauth import REDIRECT_PATH
from bot.installations.store import RedisInstallationStore
from bot.memory import connect, memory_for
from bot.settings import Settings

PROBE_CODE = "doctor-probe-not-a-code"
CREDENTIAL_FIXES = {
    "invalid_client_id": "put the Client ID of Basic Information → App Credentials in SLACK_CLIENT_ID",
    "bad_client_secret": "put the Client Secret of Basic Information → App Credentials in SLACK_CLIENT_SECRET",
}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


async def check_client(settings: Settings, client: AsyncWebClient) -> Check:
    assert settings.slack_client_id and settings.slack_client_secret is not None
    try:
        await client.oauth_v2_access(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            code=PROBE_CODE,
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in {"invalid_code", "invalid_grant_type", "code_already_used"}:
            return ok(
                "slack oauth client", f"Slack accepts SLACK_CLIENT_ID {settings.slack_client_id}"
            )
        fix = CREDENTIAL_FIXES.get(error, "compare them with Basic Information → App Credentials")
        return fail("slack oauth client", f"oauth.v2.access answered {error}", fix)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        detail = f"cannot reach Slack ({type(exc).__name__})"
        return fail("slack oauth client", detail, "check SLACK_API_URL and the network path")
    return warn(
        "slack oauth client", "oauth.v2.access accepted a made-up code", "check SLACK_API_URL"
    )


def redirect_check(redirect_uri: str | None) -> Check:
    """Pure: the redirect URL must reach this bot's callback, over https outside a laptop."""
    if redirect_uri is None:
        detail = f"SLACK_REDIRECT_URI unset: Slack uses the app's Redirect URL (https://YOUR-HOST{REDIRECT_PATH})"
        return Check("oauth redirect", Status.OK, detail)
    url = urlsplit(redirect_uri)
    if url.path != REDIRECT_PATH:
        return fail(
            "oauth redirect",
            f"{redirect_uri} does not end with {REDIRECT_PATH}",
            f"point it (and the app's Redirect URL) at https://YOUR-HOST{REDIRECT_PATH}",
        )
    if url.scheme != "https" and url.hostname not in _LOCAL_HOSTS:
        return fail(
            "oauth redirect", f"{redirect_uri} is not https", "Slack requires https redirect URLs"
        )
    return ok(
        "oauth redirect", f"{redirect_uri} (add it under OAuth & Permissions → Redirect URLs)"
    )


async def check_key(settings: Settings) -> Check:
    """The key seals and opens, and opens what is already stored (a dropped key would not)."""
    assert settings.installation_encryption_key is not None
    keys = parse_keys(settings.installation_encryption_key.get_secret_value())
    sealer = Sealer(keys)
    if sealer.open(sealer.seal(b"probe")) != b"probe":
        return fail("encryption key", "a sealed probe did not open", "make a new key")
    memory = memory_for(settings, connect(settings))
    store = RedisInstallationStore(memory.redis, prefix=settings.redis_key_prefix, sealer=sealer)
    try:
        stored = await store.sealed_sample()
    except (RedisError, OSError):
        return ok(
            "encryption key", f"{len(keys)} key(s) valid; stored installations not read (Redis)"
        )
    finally:
        await memory.redis.aclose()
    if stored is None:
        return ok("encryption key", f"{len(keys)} key(s) valid; no installation stored yet")
    try:
        sealer.open(stored)
    except InvalidToken:
        return fail(
            "encryption key",
            "INSTALLATION_ENCRYPTION_KEY does not open the stored installations",
            "put back the key they were sealed with (after a new one, comma-separated)",
        )
    return ok("encryption key", f"{len(keys)} key(s) valid; they open the stored installations")


async def check_oauth(settings: Settings, client: AsyncWebClient) -> list[Check]:
    return [
        await check_client(settings, client),
        redirect_check(settings.slack_redirect_uri),
        await check_key(settings),
    ]
