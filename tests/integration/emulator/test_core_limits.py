"""API limits: credits over a rolling day, concurrency and sub-concurrency, 429 bodies."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.support.emulator import admin, login, make_config
from zoho_emulator import Emulator

TOO_MANY = {
    "code": "TOO_MANY_REQUESTS",
    "details": {},
    "message": "You have made too many requests. Please try again after some time.",
    "status": "error",
}


async def test_credits_header_then_429_then_rolling_release(session: aiohttp.ClientSession) -> None:
    async with Emulator(make_config(alpha={"credits_per_day": 4})) as emu:
        client = await login(session, emu)
        status, _, headers = await client.call("GET", "/crm/v8/org")
        assert status == 200 and "X-API-CREDITS-REMAINING" not in headers
        status, _, headers = await client.call("GET", "/crm/v8/org")
        assert headers["X-API-CREDITS-REMAINING"] == "2"  # half used
        emu.state.advance(3600)
        client = await login(session, emu)
        status, _, _ = await client.call("GET", "/crm/v8/Leads/deleted")  # costs 2
        assert status == 204
        status, body, headers = await client.call("GET", "/crm/v8/org")
        assert (status, body) == (429, TOO_MANY)
        assert headers["X-API-CREDITS-REMAINING"] == "0"
        emu.state.advance(86_400 - 3600 + 1)  # the first two calls' credits are released
        client = await login(session, emu)
        assert (await client.call("GET", "/crm/v8/org"))[0] == 200
        _, stats = await admin(session, emu, "GET", "/stats")
        assert stats["orgs"]["alpha"]["throttled"] == 1
        assert stats["orgs"]["alpha"]["credits_used"] == 5


async def test_write_costs_one_credit_per_ten_records(session: aiohttp.ClientSession) -> None:
    async with Emulator(make_config()) as emu:
        client = await login(session, emu)
        await client.insert("Leads", *({"Last_Name": str(i)} for i in range(21)))
        _, stats = await admin(session, emu, "GET", "/stats")
        assert stats["orgs"]["alpha"]["credits_used"] == 3


async def test_concurrency_limit_per_edition(session: aiohttp.ClientSession) -> None:
    config = make_config(beta={"latency_ms": 300})
    async with Emulator(config) as emu:
        client = await login(session, emu, "beta")  # free edition: 5 concurrent calls
        results = await asyncio.gather(*(client.call("GET", "/crm/v8/org") for _ in range(7)))
        statuses = sorted(r[0] for r in results)
        assert statuses == [200] * 5 + [429] * 2
        assert all(r[1] == TOO_MANY for r in results if r[0] == 429)
        _, stats = await admin(session, emu, "GET", "/stats")
        assert stats["orgs"]["beta"]["max_concurrency"] == 5
        assert stats["orgs"]["beta"]["throttled"] == 2


async def test_writes_of_more_than_ten_records_share_sub_concurrency_ten(
    session: aiohttp.ClientSession,
) -> None:
    config = make_config(alpha={"latency_ms": 300})
    async with Emulator(config) as emu:
        client = await login(session, emu)  # enterprise: 20 concurrent, 10 heavy
        big = {"data": [{"Last_Name": str(i)} for i in range(11)]}
        small = {"data": [{"Last_Name": str(i)} for i in range(10)]}
        calls = [client.call("POST", "/crm/v8/Leads", json=big) for _ in range(12)]
        calls += [client.call("POST", "/crm/v8/Leads", json=small) for _ in range(4)]
        results = await asyncio.gather(*calls)
        big_statuses = sorted(r[0] for r in results[:12])
        assert big_statuses == [201] * 10 + [429] * 2
        assert all(r[0] == 201 for r in results[12:])


async def test_admin_api_is_not_metered(session: aiohttp.ClientSession) -> None:
    async with Emulator(make_config(alpha={"credits_per_day": 1})) as emu:
        for _ in range(3):
            status, _ = await admin(session, emu, "GET", "/stats")
            assert status == 200
        _, stats = await admin(session, emu, "GET", "/stats")
        assert stats["orgs"]["alpha"]["credits_used"] == 0


async def test_concurrency_429_also_carries_the_credits_header(
    session: aiohttp.ClientSession,
) -> None:
    async with Emulator(make_config(beta={"credits_per_day": 20})) as emu:
        client = await login(session, emu, "beta")  # free edition: 5 concurrent calls
        for _ in range(10):
            await client.call("GET", "/crm/v8/org")  # half of the 20 credits used
        await admin(session, emu, "POST", "/faults", json={"org": "beta", "latency_ms": 300})
        results = await asyncio.gather(*(client.call("GET", "/crm/v8/org") for _ in range(7)))
        throttled = [r for r in results if r[0] == 429]
        assert len(throttled) == 2 and all(r[1] == TOO_MANY for r in throttled)
        assert all(r[2]["X-API-CREDITS-REMAINING"] == "10" for r in throttled)
        assert "Retry-After" not in throttled[0][2]
        served = [int(r[2]["X-API-CREDITS-REMAINING"]) for r in results if r[0] == 200]
        assert len(served) == 5 and all(5 <= n <= 9 for n in served)
