"""Slack's OAuth v2 side for `FakeSlack`: the consent page, `oauth.v2.access`, rotating tokens.

What a test arranges: `next_install` (the workspace, or Enterprise Grid org, whose admin clicks
"Allow" next), `rotation` / `expires_in` (token rotation on: `xoxe.xoxb-` tokens that expire,
with refresh tokens), `redirect_url` (the app's configured Redirect URL, used when the
authorize request names none), and `refresh_gate` (hold refresh grants until it is set).
Error codes follow Slack's oauth.v2.access: `invalid_client_id`, `bad_client_secret`,
`invalid_code` (unknown or already used), `invalid_refresh_token`; a call with an expired token
gets `token_expired`, with a revoked one `token_revoked`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

Json = dict[str, Any]

APP_ID = "A0001"


@dataclass(frozen=True)
class Workspace:
    """Who installs: a workspace, or (org_wide) a whole Enterprise Grid org."""

    team_id: str | None
    team_name: str = ""
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    org_wide: bool = False
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"


@dataclass
class Issued:
    workspace: Workspace
    expires_at: float | None  # wall clock; None: a token that never expires
    revoked: bool = False


class FakeOAuth:
    def __init__(self) -> None:
        self.client_id = "1111.2222"
        self.client_secret = "fake-client-secret"
        self.redirect_url: str | None = None
        self.next_install = Workspace("T0A", "Workspace A", bot_user_id="UBOTA", bot_id="BBOTA")
        self.rotation = False
        self.expires_in = 43_200  # Slack's rotating tokens live 12 hours
        self.refresh_expires_in = 43_200
        self.refresh_gate: asyncio.Event | None = None
        self.refresh_requested = asyncio.Event()
        self.tokens: dict[str, Issued] = {}
        self.consents: list[Json] = []  # every authorize request (scopes asked for, state, …)
        self.grants: list[str] = []  # "code" / "refresh_token", one per successful grant
        self._codes: dict[str, Workspace] = {}
        self._refresh_tokens: dict[str, Workspace] = {}
        self._serial = itertools.count(1)

    # -- the consent page ---------------------------------------------------------------------

    def authorize(self, query: Json) -> tuple[int, str]:
        """(status, Location or error): the admin approves `next_install` at once."""
        self.consents.append(dict(query))
        if query.get("client_id") != self.client_id:
            return 400, "invalid_client_id"
        target = query.get("redirect_uri") or self.redirect_url
        if not target:
            return 400, "bad_redirect_uri"
        code = f"code-{next(self._serial)}-{secrets.token_hex(4)}"
        self._codes[code] = self.next_install
        return 302, f"{target}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    # -- oauth.v2.access ----------------------------------------------------------------------

    async def before_access(self, args: Json) -> None:
        if args.get("grant_type") == "refresh_token":
            self.refresh_requested.set()
            if self.refresh_gate is not None:
                await self.refresh_gate.wait()

    def access(self, args: Json, authorization: str) -> Json:
        client_id, secret = _client_credentials(args, authorization)
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if args.get("grant_type") == "refresh_token":
            workspace = self._refresh_tokens.pop(str(args.get("refresh_token")), None)
            if workspace is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            self.grants.append("refresh_token")
            return self._grant(workspace, rotating=True, expires_in=self.refresh_expires_in)
        workspace = self._codes.pop(str(args.get("code")), None)  # a code works once
        if workspace is None:
            return {"ok": False, "error": "invalid_code"}
        self.grants.append("code")
        return self._grant(workspace, rotating=self.rotation, expires_in=self.expires_in)

    def _grant(self, workspace: Workspace, *, rotating: bool, expires_in: int) -> Json:
        serial = next(self._serial)
        prefix = "xoxe.xoxb-" if rotating else "xoxb-"
        token = f"{prefix}{workspace.enterprise_id or ''}{workspace.team_id or ''}-{serial}"
        self.tokens[token] = Issued(workspace, time.time() + expires_in if rotating else None)
        answer: Json = {
            "ok": True,
            "app_id": APP_ID,
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(sorted(self.consents[-1].get("scope", "").split(",")))
            if self.consents
            else "",
            "bot_user_id": workspace.bot_user_id,
            "team": None
            if workspace.org_wide
            else {"id": workspace.team_id, "name": workspace.team_name},
            "enterprise": (
                {"id": workspace.enterprise_id, "name": workspace.enterprise_name}
                if workspace.enterprise_id
                else None
            ),
            "is_enterprise_install": workspace.org_wide,
            "authed_user": {"id": "UADMIN"},
        }
        if rotating:
            refresh = f"xoxe-1-{serial}-{secrets.token_hex(4)}"
            self._refresh_tokens[refresh] = workspace
            answer |= {"refresh_token": refresh, "expires_in": expires_in}
        return answer

    # -- per-token auth -----------------------------------------------------------------------

    def problem(self, token: str) -> str | None:
        """None when `token` is a live token this fake issued, else Slack's error code."""
        issued = self.tokens.get(token)
        if issued is None:
            return "invalid_auth"
        if issued.revoked:
            return "token_revoked"
        if issued.expires_at is not None and issued.expires_at <= time.time():
            return "token_expired"
        return None

    def workspace_of(self, token: str) -> Workspace | None:
        issued = self.tokens.get(token)
        return issued.workspace if issued is not None else None

    def auth_test(self, token: str, args: Json) -> Json:
        workspace = self.tokens[token].workspace
        return {
            "ok": True,
            "url": f"https://{(workspace.team_id or workspace.enterprise_id or 'x').lower()}.slack.com/",
            "team": workspace.team_name,
            "user": "bot",
            "team_id": workspace.team_id or args.get("team_id") or workspace.enterprise_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "enterprise_id": workspace.enterprise_id,
            "is_enterprise_install": workspace.org_wide,
        }

    def revoke_all(self, workspace: Workspace) -> None:
        """The workspace uninstalled the app: its tokens stop working."""
        for issued in self.tokens.values():
            if issued.workspace == workspace:
                issued.revoked = True

    def expire(self, token: str) -> None:
        self.tokens[token].expires_at = time.time() - 1


def _client_credentials(args: Json, authorization: str) -> tuple[str, str]:
    """Slack takes client_id/client_secret as HTTP Basic auth (slack_sdk's way) or form fields."""
    if authorization.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            return user, password
        except ValueError:
            return "", ""
    return str(args.get("client_id") or ""), str(args.get("client_secret") or "")
