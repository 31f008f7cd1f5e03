"""OAuth for one org: the token endpoint, and the access-token policy (TokenManager).

The policy (reference §1): an access token lives ``expires_in`` seconds (3600); it is
cached until ``margin`` seconds before that and refreshed once for every concurrent
caller (single flight, re-check under the lock).  Zoho allows 10 refreshes per refresh
token per 10 minutes, so the manager refuses an 11th locally with ``RefreshThrottled``
(``retry_after`` set) instead of earning ``Access Denied``.  An auth failure (revoked
refresh token, bad client) is remembered for ``auth_failure_cooldown`` so callers get
the same error without a retry storm at the accounts server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from .endpoints import OrgEndpoints
from .errors import (
    AuthError,
    RefreshThrottled,
    RetryableError,
    ServerError,
    TransportError,
    UnexpectedResponse,
    ZohoError,
    error_for,
)
from .metrics import ZohoMetrics

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    api_domain: str
    expires_at: float  # epoch seconds on the manager's clock

    def is_expired(self, now: float, margin: float = 0.0) -> bool:
        return now >= self.expires_at - margin

    @property
    def header(self) -> str:
        return f"Zoho-oauthtoken {self.value}"


@dataclass(frozen=True)
class TokenGrant:
    """A successful token-endpoint answer (``refresh_token`` only for a code exchange)."""

    access_token: str = field(repr=False)
    api_domain: str
    expires_in: float
    refresh_token: str | None = field(default=None, repr=False)


class TokenEndpoint:
    """``POST {accounts}/oauth/v2/token`` for one client; answers become grants or errors."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoints: OrgEndpoints,
        client_id: str,
        client_secret: str,
        *,
        org: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._endpoints = endpoints
        self._client = {"client_id": client_id, "client_secret": client_secret}
        self._org = org
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def refresh(self, refresh_token: str) -> TokenGrant:
        return await self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def exchange_code(self, code: str) -> TokenGrant:
        grant = await self._grant({"grant_type": "authorization_code", "code": code})
        if not grant.refresh_token:
            raise UnexpectedResponse("the code exchange returned no refresh_token", org=self._org)
        return grant

    async def _grant(self, form: dict[str, str]) -> TokenGrant:
        status, body = await self._post({**form, **self._client})
        # Zoho answers token errors with HTTP 200 and {"error": ...}.
        if isinstance(body, dict) and "error" in body:
            raise error_for(status, body, org=self._org)
        if status >= 500:
            raise ServerError("accounts server error", status=status, org=self._org)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise UnexpectedResponse(
                "token response without access_token", status=status, org=self._org
            )
        return self._parse(body)

    def _parse(self, body: dict[str, Any]) -> TokenGrant:
        if "expires_in_sec" in body:  # very old answers: expires_in was milliseconds
            expires_in = float(body["expires_in_sec"])
        else:
            expires_in = float(body.get("expires_in", 3600))
        api_domain = self._endpoints.accept_api_domain(body.get("api_domain"))
        return TokenGrant(
            access_token=str(body["access_token"]),
            api_domain=api_domain,
            expires_in=expires_in,
            refresh_token=body.get("refresh_token"),
        )

    async def _post(self, form: dict[str, str]) -> tuple[int, Any]:
        try:
            async with self._session.post(
                self._endpoints.token_url, data=form, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            host = urlsplit(self._endpoints.token_url).netloc
            raise TransportError(
                f"accounts server {host} unreachable ({type(exc).__name__}): check the org's "
                f"dc (or accounts_url) and that this host can reach it",
                org=self._org,
            ) from None
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return status, None


class TokenCache:
    """An optional file (mode 0600) so a restart does not spend a refresh."""

    def __init__(self, path: Path, refresh_token: str) -> None:
        self.path = path
        # Ties the cache to the refresh token without storing it.
        self._fingerprint = hashlib.sha256(refresh_token.encode()).hexdigest()[:32]

    def load(self) -> AccessToken | None:
        try:
            data = orjson.loads(self.path.read_bytes())
            if data.get("fingerprint") != self._fingerprint:
                return None
            return AccessToken(
                str(data["access_token"]), str(data["api_domain"]), float(data["expires_at"])
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save(self, token: AccessToken) -> None:
        """Keep `token` for the next start; a cache that cannot be written (read-only or
        missing home directory) costs a refresh at the next start, never this one's token."""
        payload = {
            "fingerprint": self._fingerprint,
            "access_token": token.value,
            "api_domain": token.api_domain,
            "expires_at": token.expires_at,
        }
        try:
            write_private_file(self.path, orjson.dumps(payload))
        except OSError as error:
            log.warning("token cache not written path=%s error=%s", self.path, error.strerror)

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def write_private_file(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly world-readable)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class TokenManager:
    """Access tokens for one org: cached, single-flight refresh, rate-limit aware."""

    def __init__(
        self,
        refresh: Callable[[], Awaitable[TokenGrant]],
        *,
        org: str = "",
        clock: Clock = time.time,
        margin: float = 60.0,
        cache: TokenCache | None = None,
        accept_api_domain: Callable[[str], str] | None = None,
        refresh_limit: int = 10,
        refresh_window: float = 600.0,
        throttle_cooldown: float = 60.0,
        auth_failure_cooldown: float = 300.0,
        metrics: ZohoMetrics | None = None,
    ) -> None:
        self._refresh = refresh
        self._org = org
        self._clock = clock
        self._margin = margin
        self._cache = cache
        self._accept = accept_api_domain
        self._limit = refresh_limit
        self._window = refresh_window
        self._throttle_cooldown = throttle_cooldown
        self._auth_cooldown = auth_failure_cooldown
        self._metrics = metrics
        self._lock = asyncio.Lock()
        self._current: AccessToken | None = None
        self._history: deque[float] = deque()
        self._blocked: tuple[ZohoError, float] | None = None
        self.refreshes = 0
        self._loaded = cache is None

    @property
    def current(self) -> AccessToken | None:
        return self._current

    def _valid(self, token: AccessToken | None) -> AccessToken | None:
        if token is not None and not token.is_expired(self._clock(), self._margin):
            return token
        return None

    async def get(self) -> AccessToken:
        token = self._valid(self._current)
        if token is not None:
            return token
        async with self._lock:
            token = self._valid(self._current) or self._valid(self._from_cache())
            if token is None:
                token = await self._refresh_now()
            self._current = token
            return token

    def invalidate(self, token: AccessToken) -> None:
        """Zoho said INVALID_TOKEN for ``token``; the next ``get`` refreshes (once)."""
        if self._current is not None and self._current.value == token.value:
            self._current = None
            if self._cache is not None:
                self._cache.clear()

    def _from_cache(self) -> AccessToken | None:
        if self._loaded or self._cache is None:
            return None
        self._loaded = True
        token = self._cache.load()
        if token is not None and self._accept is not None:
            try:
                self._accept(token.api_domain)
            except AuthError:
                return None
        return token

    async def _refresh_now(self) -> AccessToken:
        self._check_blocked()
        self._check_rate()
        self._history.append(self._clock())
        try:
            grant = await self._refresh()
        except ZohoError as exc:
            self._on_failure(exc)
            raise
        self.refreshes += 1
        self._count("ok")
        token = AccessToken(grant.access_token, grant.api_domain, self._clock() + grant.expires_in)
        log.info("zoho token refreshed org=%s expires_in=%ss", self._org, int(grant.expires_in))
        if self._cache is not None:
            self._cache.save(token)
        return token

    def _check_blocked(self) -> None:
        if self._blocked is None:
            return
        error, until = self._blocked
        if self._clock() < until:
            if isinstance(error, RetryableError):
                error.retry_after = until - self._clock()
            raise error.with_traceback(None)
        self._blocked = None

    def _check_rate(self) -> None:
        now = self._clock()
        while self._history and self._history[0] <= now - self._window:
            self._history.popleft()
        if len(self._history) >= self._limit:
            wait = self._history[0] + self._window - now
            self._count("throttled")
            raise RefreshThrottled(
                f"{self._limit} token refreshes in the last {int(self._window)} s; "
                f"next allowed in {wait:.0f} s",
                retry_after=wait,
                org=self._org,
            )

    def _on_failure(self, exc: ZohoError) -> None:
        if isinstance(exc, AuthError):
            self._count("auth")
            self._blocked = (exc, self._clock() + self._auth_cooldown)
        elif isinstance(exc, RefreshThrottled):
            self._count("throttled")
            exc.retry_after = self._throttle_cooldown
            self._blocked = (exc, self._clock() + self._throttle_cooldown)
        else:
            self._count("error")
        log.warning("zoho token refresh failed org=%s error=%s", self._org, exc.zoho_code)

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.token_refreshes.labels(org=self._org, outcome=outcome).inc()
            self._metrics.token_refreshed_at.labels(org=self._org, outcome=outcome).set(
                self._clock()
            )
