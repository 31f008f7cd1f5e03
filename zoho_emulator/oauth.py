"""Zoho accounts server: grant-code and refresh-token grants, revoke, access-token checks.

Token-endpoint errors are answered with HTTP 200 and {"error": ...}, as Zoho does.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .config import EmulatorConfig
from .http import json_response
from .scopes import Grant

ACCESS_DENIED = {
    "error_description": (
        "You have made too many requests continuously. Please try again after some time."
    ),
    "error": "Access Denied",
    "status": "failure",
}


def new_token() -> str:
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


@dataclass
class RefreshToken:
    token: str = field(repr=False)
    org: str
    client_id: str
    grant: Grant | None = None  # the scopes its grant token was made for; None: all
    issued_ms: deque[int] = field(default_factory=deque)
    live: deque[str] = field(default_factory=deque, repr=False)


@dataclass(frozen=True)
class AccessToken:
    org: str
    client_id: str
    refresh: str = field(repr=False)
    expires_ms: int
    grant: Grant | None = None


class TokenError(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("error"))
        self.body = body


class TokenStore:
    """Every token of every org; ``on_refresh(org, client_id)`` counts refresh grants."""

    def __init__(
        self,
        config: EmulatorConfig,
        clock: Callable[[], int],
        on_refresh: Callable[[str, str], None],
    ) -> None:
        self.config = config
        self.behaviour = config.behaviour
        self.now_ms = clock
        self.on_refresh = on_refresh
        self.api_domain = config.public_url or ""  # the listen URL once the server runs
        self.secrets: dict[str, str] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.access: dict[str, AccessToken] = {}
        # Tokens pushed out by a newer one (more than `max_live_access_tokens`): Zoho names
        # their use INVALID_OAUTHTOKEN, not INVALID_TOKEN. Bounded: only recent ones matter.
        self.evicted: deque[str] = deque(maxlen=10_000)
        self.grants: dict[str, tuple[str, str, int]] = {}
        self.minted: dict[tuple[str, str], deque[str]] = {}
        # Scopes are fixed when a grant token is made: every token of a client carries its list.
        self.scopes: dict[str, Grant | None] = {}
        ttl_ms = self.behaviour.grant_code_ttl_s * 1000
        for org in config.orgs.values():
            for client in org.clients:
                self.secrets[client.client_id] = client.client_secret
                grant = None if client.scopes is None else Grant(client.scopes)
                self.scopes[client.client_id] = grant
                for token in client.refresh_tokens:
                    self.refresh[token] = RefreshToken(token, org.name, client.client_id, grant)
                for code in client.grant_codes:
                    self.grants[code] = (org.name, client.client_id, clock() + ttl_ms)

    def authenticate(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None:
            return None
        if found.expires_ms <= self.now_ms():
            del self.access[token]
            return None
        return found

    def exchange(self, params: dict[str, str]) -> dict[str, Any]:
        client_id = params.get("client_id", "")
        if client_id not in self.secrets:
            raise TokenError({"error": "invalid_client"})
        if params.get("client_secret") != self.secrets[client_id]:
            raise TokenError({"error": "invalid_client_secret"})
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            return self._from_code(client_id, params.get("code", ""))
        if grant_type == "refresh_token":
            return self._from_refresh(client_id, params.get("refresh_token", ""))
        raise TokenError({"error": "unsupported_grant_type"})

    def _from_code(self, client_id: str, code: str) -> dict[str, Any]:
        grant = self.grants.get(code)
        if grant is None or grant[1] != client_id or grant[2] <= self.now_ms():
            raise TokenError({"error": "invalid_code"})
        del self.grants[code]  # single use
        org = grant[0]
        refresh = RefreshToken(new_token(), org, client_id, self.scopes[client_id])
        self.refresh[refresh.token] = refresh
        self._limit_refresh_tokens(org, client_id, refresh.token)
        answer = self._issue(refresh)
        return {
            "access_token": answer["access_token"],
            "refresh_token": refresh.token,
            **{k: v for k, v in answer.items() if k != "access_token"},
        }

    def _limit_refresh_tokens(self, org: str, client_id: str, token: str) -> None:
        minted = self.minted.setdefault((org, client_id), deque())
        minted.append(token)
        while len(minted) > self.behaviour.max_refresh_tokens:
            self.revoke(minted.popleft())

    def _from_refresh(self, client_id: str, token: str) -> dict[str, Any]:
        refresh = self.refresh.get(token)
        if refresh is None or refresh.client_id != client_id:
            raise TokenError({"error": "invalid_code"})
        behaviour = self.behaviour
        now = self.now_ms()
        issued = refresh.issued_ms
        while issued and issued[0] <= now - behaviour.refresh_window_s * 1000:
            issued.popleft()
        if len(issued) >= behaviour.refresh_limit:
            raise TokenError(ACCESS_DENIED)
        self.on_refresh(refresh.org, client_id)
        return self._issue(refresh)

    def _issue(self, refresh: RefreshToken) -> dict[str, Any]:
        now = self.now_ms()
        ttl = self.config.access_token_ttl
        token = new_token()
        self.access[token] = AccessToken(
            refresh.org, refresh.client_id, refresh.token, now + ttl * 1000, refresh.grant
        )
        refresh.issued_ms.append(now)
        refresh.live.append(token)
        while len(refresh.live) > self.behaviour.max_live_access_tokens:
            oldest = refresh.live.popleft()
            if self.access.pop(oldest, None) is not None:
                self.evicted.append(oldest)
        return {
            "access_token": token,
            "api_domain": self.api_domain,
            "token_type": "Bearer",
            "expires_in": ttl,
        }

    def revoke(self, token: str) -> bool:
        refresh = self.refresh.pop(token, None)
        if refresh is None:
            return False
        for access in refresh.live:
            self.access.pop(access, None)
        return True

    def revoke_org_access(self, org: str) -> None:
        """Invalidate every access token issued so far for the org (fault injection)."""
        for token in [t for t, a in self.access.items() if a.org == org]:
            del self.access[token]

    def reset_counters(self) -> None:
        for refresh in self.refresh.values():
            refresh.issued_ms.clear()


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.can_read_body:
        form = await request.post()
        params.update({k: str(v) for k, v in form.items()})
    return params


def token_routes(store: TokenStore) -> list[web.RouteDef]:
    async def token(request: web.Request) -> web.Response:
        try:
            return json_response(store.exchange(await _params(request)))
        except TokenError as exc:
            return json_response(exc.body)  # HTTP 200, as Zoho answers

    async def revoke(request: web.Request) -> web.Response:
        if store.revoke((await _params(request)).get("token", "")):
            return json_response({"status": "success"})
        return json_response({"status": "failure", "error": "invalid_token"}, 400)

    return [web.post("/oauth/v2/token", token), web.post("/oauth/v2/token/revoke", revoke)]
