"""Issue 15 item 2: concurrency is counted per user per app (Zoho's status-codes page: "the
concurrency limit of the user for the app"), so two apps of one org each get the edition's slots."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import BETA_REFRESH, Client, admin, make_config, token_call
from zoho_emulator import Emulator
from zoho_emulator.config import ConfigError, load_config

SECOND = {
    "client_id": "1000.BETASECOND",
    "client_secret": "beta-second",
    "refresh_tokens": ["1000." + "e" * 32 + "." + "f" * 32],
}


def _two_apps(**behaviour: Any) -> dict[str, Any]:
    config = make_config(
        beta={
            "latency_ms": 300,
            "clients": [
                {
                    "client_id": "1000.BETACLIENT",
                    "client_secret": "beta-secret",
                    "refresh_tokens": [BETA_REFRESH],
                },
                SECOND,
            ],
        }
    )
    if behaviour:
        config["behaviour"] = behaviour
    return config


async def _client(session: aiohttp.ClientSession, emu: Emulator, client: dict[str, Any]) -> Client:
    status, body = await token_call(
        session,
        emu,
        grant_type="refresh_token",
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        refresh_token=client["refresh_tokens"][0],
    )
    assert status == 200, body
    return Client(emu, session, body["access_token"])


async def _burst(emu: Emulator, session: aiohttp.ClientSession) -> tuple[list[int], list[int]]:
    first_app = _two_apps()["orgs"]["beta"]["clients"][0]
    first, second = await _client(session, emu, first_app), await _client(session, emu, SECOND)
    results = await asyncio.gather(
        *(first.call("GET", "/crm/v8/org") for _ in range(7)),
        *(second.call("GET", "/crm/v8/org") for _ in range(5)),
    )
    return sorted(r[0] for r in results[:7]), sorted(r[0] for r in results[7:])


async def test_each_app_has_the_editions_slots_by_default(session: aiohttp.ClientSession) -> None:
    async with Emulator(_two_apps()) as emu:  # free edition: 5 per app
        first, second = await _burst(emu, session)
        assert first == [200] * 5 + [429] * 2
        assert second == [200] * 5
        _, stats = await admin(session, emu, "GET", "/stats")
        assert stats["orgs"]["beta"]["throttled"] == 2
        assert stats["orgs"]["beta"]["max_concurrency"] == 10  # the org saw both apps' calls


async def test_org_scope_switch_shares_the_slots(session: aiohttp.ClientSession) -> None:
    async with Emulator(_two_apps(concurrency_scope="org")) as emu:
        first, second = await _burst(emu, session)
        assert (first + second).count(200) == 5
        assert (first + second).count(429) == 7


def test_unknown_scope_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="concurrency_scope"):
        load_config(make_config(behaviour={"concurrency_scope": "user"}))
