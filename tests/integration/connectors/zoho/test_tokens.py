"""Tokens against the emulator's accounts server: revocation, bad credentials, api_domain."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import aiohttp
import pytest

from connectors.zoho.errors import AuthError, InvalidClientSecret, InvalidCode, UntrustedApiDomain
from tests.support.zoho_client import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    Emu,
    MakeClient,
    emulator_config,
    lead,
)
from zoho_emulator import Emulator


async def test_revoked_access_token_is_recovered_transparently(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client()
    [first] = await client.insert("Leads", [lead(1)], trigger=[])
    await emu.faults(revoke_tokens=True)

    got = await asyncio.gather(
        *(client.get_by_ids("Leads", [first.id], ["Email"]) for _ in range(20))
    )

    assert all(r[0]["Email"] == "lead1@example.com" for r in got)
    assert await emu.refreshes() == 2  # the first token, and exactly one after the revocation


async def test_a_token_evicted_by_fifteen_newer_ones_is_replaced_with_one_refresh(
    emu: Emu, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """Other processes sharing the refresh token log in 15 times: Zoho keeps 15 live access
    tokens per refresh token, so ours is pushed out (INVALID_OAUTHTOKEN)."""
    client = await make_client()
    [first] = await client.insert("Leads", [lead(1)], trigger=[])
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    for _ in range(15):
        emu.emulator.state.advance(61)  # under the 10 refreshes per 10 minutes
        async with session.post(f"{emu.url}/oauth/v2/token", data=form) as answer:
            assert "access_token" in await answer.json(content_type=None)
    before = await emu.refreshes()

    [got] = await client.get_by_ids("Leads", [first.id], ["Email"])

    assert got["Email"] == "lead1@example.com"
    assert await emu.refreshes() == before + 1


async def test_invalid_refresh_token_is_an_auth_error_without_retry_storm(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client(refresh_token="1000.revoked.revoked")
    results = await asyncio.gather(
        *(client.get_by_ids("Leads", ["1"], ["Email"]) for _ in range(50)), return_exceptions=True
    )
    assert all(isinstance(r, InvalidCode) for r in results)
    message = str(results[0])
    assert "invalid_code" in message and "refresh token was revoked" in message
    assert "1000.revoked.revoked" not in message
    attempts = client.metrics.token_refreshes.labels(org="alpha", outcome="auth")._value.get()
    assert attempts == 1  # the accounts server was asked once, not 50 times
    assert await emu.calls() == 0  # no CRM call was sent without a token
    with pytest.raises(InvalidCode):  # and later callers get the same answer at once
        await client.get_by_ids("Leads", ["1"], ["Email"])
    assert client.metrics.token_refreshes.labels(org="alpha", outcome="auth")._value.get() == 1


async def test_wrong_client_secret_says_what_to_fix(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client(client_secret="wrong-secret")
    with pytest.raises(InvalidClientSecret) as info:
        await client.users()
    assert "client_secret does not match" in str(info.value)
    assert "wrong-secret" not in str(info.value)


async def test_unknown_api_domain_is_refused(
    make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    config = {**emulator_config(), "public_url": "https://evil.example.com"}
    async with Emulator(config) as other:
        client = await make_client(accounts_url=other.url, api_url=other.url)
        with pytest.raises(UntrustedApiDomain) as info:
            await client.get_by_ids("Leads", ["1"], ["Email"])
        assert isinstance(info.value, AuthError)
        assert "https://evil.example.com" in str(info.value)
        async with session.get(f"{other.url}/__emulator/stats") as resp:
            stats = (await resp.json())["orgs"]["alpha"]
        assert stats["calls"].get(CLIENT_ID, {}) == {}  # the token went nowhere


async def test_token_cache_file_spares_a_refresh_after_restart(
    emu: Emu, make_client: MakeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "tokens" / "alpha.json"
    first = await make_client(token_cache_path=cache)
    await first.users()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert first.connection.refresh_token not in cache.read_text()
    await first.stop()

    second = await make_client(token_cache_path=cache)
    await second.fields("Leads")
    assert await emu.refreshes() == 1

    third = await make_client(token_cache_path=cache, refresh_token="1000.other.token")
    with pytest.raises(InvalidCode):  # a cache of another refresh token is not used
        await third.users()
