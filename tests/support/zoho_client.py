"""Helpers for the Zoho client tests against the in-process emulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from connectors.zoho import BackoffPolicy, ZohoClient
from zoho_emulator import Emulator

CLIENT_ID = "1000.ALPHACLIENT"
CLIENT_SECRET = "alpha-client-secret-0123456789abcdef"
REFRESH_TOKEN = "1000.0a1b2c3d4e5f60718293a4b5c6d7e8f9.f9e8d7c6b5a4938271605f4e3d2c1b0a"
GRANT_CODE = "1000.grantgrantgrantgrantgrantgrant.codecodecodecodecodecodecodecode"


def emulator_config(**org: Any) -> dict[str, Any]:
    alpha: dict[str, Any] = {
        "dc": "in",
        "edition": "professional",
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_tokens": [REFRESH_TOKEN],
                "grant_codes": [GRANT_CODE],
            }
        ],
        "modules": {
            "Leads": {
                "fields": [{"api_name": "Origin_Record_Id", "data_type": "text", "unique": True}]
            }
        },
    }
    alpha.update(org)
    return {"orgs": {"alpha": alpha}}


class Emu:
    """The running emulator plus its admin API."""

    def __init__(self, emulator: Emulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.url = emulator.url
        self._session = session

    async def stats(self) -> dict[str, Any]:
        async with self._session.get(f"{self.url}/__emulator/stats") as resp:
            body: dict[str, Any] = (await resp.json())["orgs"]["alpha"]
            return body

    async def faults(self, **faults: Any) -> None:
        async with self._session.post(
            f"{self.url}/__emulator/faults", json={"org": "alpha", **faults}
        ) as resp:
            assert resp.status == 200, await resp.text()

    async def calls(self, key: str | None = None) -> int:
        per_client = (await self.stats())["calls"].get(CLIENT_ID, {})
        if key is None:
            return sum(per_client.values())
        return int(per_client.get(key, 0))

    async def refreshes(self) -> int:
        return int((await self.stats())["token_refreshes"].get(CLIENT_ID, 0))


def fast_backoff(max_attempts: int = 6) -> BackoffPolicy:
    return BackoffPolicy(max_attempts=max_attempts, base=0.001, cap=0.005, throttle_base=0.001)


MakeClient = Callable[..., Awaitable[ZohoClient]]


def lead(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "Last_Name": f"Lead {n}",
        "Email": f"lead{n}@example.com",
        "Origin_Record_Id": f"src-{n}",
        **extra,
    }
