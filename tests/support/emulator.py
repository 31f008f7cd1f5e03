"""Helpers of the emulator tests: the two-org config, a logged-in API client, admin calls."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from zoho_emulator import Emulator

ALPHA_REFRESH = "1000." + "a" * 32 + "." + "b" * 32
BETA_REFRESH = "1000." + "c" * 32 + "." + "d" * 32
BASE_CONFIG: dict[str, Any] = {
    "access_token_ttl": 3600,
    "orgs": {
        "alpha": {
            "dc": "in",
            "edition": "enterprise",
            "users": [
                {"email": "admin@alpha.example", "name": "Alpha Admin"},
                {"email": "rep@alpha.example", "name": "Alpha Rep", "role": "Sales"},
            ],
            "clients": [
                {
                    "client_id": "1000.ALPHACLIENT",
                    "client_secret": "alpha-secret",
                    "refresh_tokens": [ALPHA_REFRESH],
                    "grant_codes": ["1000.grant.alpha"],
                }
            ],
            "modules": {
                "Leads": {
                    "fields": [
                        {"api_name": "Origin_Record_Id", "data_type": "text", "unique": True},
                        {
                            "api_name": "Languages",
                            "data_type": "multiselectpicklist",
                            "pick_list_values": ["English", "German"],
                        },
                        {"api_name": "Next_Call", "data_type": "datetime"},
                    ]
                },
                "Projects": {"fields": [{"api_name": "Budget", "data_type": "currency"}]},
            },
        },
        "beta": {
            "dc": "us",
            "edition": "free",
            "clients": [
                {
                    "client_id": "1000.BETACLIENT",
                    "client_secret": "beta-secret",
                    "refresh_tokens": [BETA_REFRESH],
                }
            ],
        },
    },
}


def make_config(**org_changes: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(BASE_CONFIG)
    for org, changes in org_changes.items():
        if org == "behaviour":
            config["behaviour"] = changes
        else:
            config["orgs"][org].update(changes)
    return config


class Client:
    """A logged-in API client of one emulated org."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession, token: str) -> None:
        self.emu, self.session, self.token = emu, session, token

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any, Any]:
        all_headers = {"Authorization": f"Zoho-oauthtoken {self.token}", **(headers or {})}
        async with self.session.request(
            method, self.emu.url + path, headers=all_headers, **kw
        ) as r:
            raw = await r.read()
            body = None if not raw else await r.json(content_type=None)
            return r.status, body, r.headers

    async def insert(self, module: str, *records: dict[str, Any]) -> list[str]:
        status, body, _ = await self.call("POST", f"/crm/v8/{module}", json={"data": list(records)})
        assert status == 201, body
        return [entry["details"]["id"] for entry in body["data"]]


async def token_call(
    session: aiohttp.ClientSession, emu: Emulator, **params: str
) -> tuple[int, dict[str, Any]]:
    async with session.post(emu.url + "/oauth/v2/token", data=params) as r:
        return r.status, await r.json(content_type=None)


async def login(session: aiohttp.ClientSession, emu: Emulator, org: str = "alpha") -> Client:
    client = BASE_CONFIG["orgs"][org]["clients"][0]
    status, body = await token_call(
        session,
        emu,
        grant_type="refresh_token",
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        refresh_token=client["refresh_tokens"][0],
    )
    assert status == 200 and "access_token" in body, body
    return Client(emu, session, body["access_token"])


async def admin(
    session: aiohttp.ClientSession, emu: Emulator, method: str, path: str, **kw: Any
) -> tuple[int, Any]:
    async with session.request(method, emu.url + "/__emulator" + path, **kw) as r:
        return r.status, await r.json(content_type=None)


@contextlib.asynccontextmanager
async def post_receiver(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """A loopback HTTP server answering every POST with `handle`; yields its base URL."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
