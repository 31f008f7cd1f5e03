"""A deliberately small Zoho CRM caller for the workload, the baselines and the observer.

The baselines must not borrow orgsync's client (batching, single-flight tokens, limiters):
they do what a Deluge script or a per-record connector does, nothing more.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from .scenario import Client

API = "/crm/v7"


class TokenDenied(Exception):
    """The token endpoint refused the refresh (Zoho: 10 refreshes per 10 min per token)."""


@dataclass
class Response:
    status: int
    body: Any


@dataclass
class Caller:
    """One OAuth client of one org: refresh on demand, call, count what it saw."""

    session: aiohttp.ClientSession
    url: str
    client: Client
    token: str | None = field(default=None, repr=False)
    refreshes: int = 0
    throttled: int = 0
    calls: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def refresh(self) -> str:
        """POST /oauth/v2/token grant_type=refresh_token; returns the new access token."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client.client_id,
            "client_secret": self.client.secret,
            "refresh_token": self.client.refresh_token,
        }
        async with self.session.post(f"{self.url}/oauth/v2/token", data=form) as response:
            body = orjson.loads(await response.read())
        self.refreshes += 1
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise TokenDenied(str(body.get("error", "no access_token")))
        self.token = str(token)
        return self.token

    async def _cached_token(self) -> str:
        async with self._lock:  # one refresh for every caller waiting on it
            return self.token or await self.refresh()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Response:
        """One HTTP call (no retry); ``token`` overrides the cached one."""
        bearer = token or self.token or await self._cached_token()
        headers = {"Authorization": f"Zoho-oauthtoken {bearer}"}
        data = None if body is None else orjson.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(
            method, self.url + API + path, data=data, params=params, headers=headers
        ) as response:
            raw = await response.read()
        self.calls += 1
        if response.status == 429:
            self.throttled += 1
        return Response(response.status, orjson.loads(raw) if raw else None)

    async def call_retrying(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        attempts: int = 30,
    ) -> Response:
        """Retry 429 and 5xx with a short bounded backoff (what any sane caller does)."""
        delay = 0.05
        for _ in range(attempts - 1):
            found = await self.call(method, path, body=body, params=params)
            if found.status != 429 and found.status < 500:
                return found
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return await self.call(method, path, body=body, params=params)


def written_ids(response: Response) -> list[str | None]:
    """Per-record ids of a write response, in request order (None where that record failed)."""
    if not isinstance(response.body, dict):
        return []
    return [
        item.get("details", {}).get("id") if item.get("status") == "success" else None
        for item in response.body.get("data", [])
    ]


async def read_all(caller: Caller, module: str, fields: list[str]) -> list[dict[str, Any]]:
    """Every record of ``module`` (200 per page, following next_page_token)."""
    params = {"fields": ",".join(fields), "per_page": "200"}
    rows: list[dict[str, Any]] = []
    while True:
        found = await caller.call_retrying("GET", f"/{module}", params=params)
        if found.status == 204 or not isinstance(found.body, dict):
            return rows
        rows += found.body.get("data", [])
        token = found.body.get("info", {}).get("next_page_token")
        if not token:
            return rows
        params = {"fields": params["fields"], "per_page": "200", "page_token": token}
