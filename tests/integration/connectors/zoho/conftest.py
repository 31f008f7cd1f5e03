"""Fixtures for the Zoho client against the in-process emulator (a real HTTP server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from connectors.zoho import BackoffPolicy, OrgConnection, ZohoClient, ZohoMetrics
from tests.support.zoho_client import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    Emu,
    MakeClient,
    emulator_config,
    fast_backoff,
)
from zoho_emulator import Emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    """Override per test module/test with extra org keys for the emulator config."""
    return {}


@pytest.fixture
async def emu(
    session: aiohttp.ClientSession, emulator_overrides: dict[str, Any]
) -> AsyncIterator[Emu]:
    async with Emulator(emulator_config(**emulator_overrides)) as emulator:
        yield Emu(emulator, session)


@pytest.fixture
async def make_client(emu: Emu, session: aiohttp.ClientSession) -> AsyncIterator[MakeClient]:
    started: list[ZohoClient] = []

    async def make(
        *,
        backoff: BackoffPolicy | None = None,
        registry: CollectorRegistry | None = None,
        **conn: Any,
    ) -> ZohoClient:
        fields: dict[str, Any] = dict(
            name="alpha",
            dc="in",
            edition="professional",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN,
            accounts_url=emu.url,
            api_url=emu.url,
        )
        fields.update(conn)
        client = ZohoClient(
            OrgConnection(**fields),
            session=session,
            metrics=ZohoMetrics.create(registry or CollectorRegistry()),
            backoff=backoff or fast_backoff(),
        )
        await client.start()
        started.append(client)
        return client

    yield make
    for client in started:
        await client.stop()
