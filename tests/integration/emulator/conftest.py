"""Fixtures of the emulator tests: a running two-org emulator and a logged-in client per org."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(make_config()) as running:
        yield running


@pytest.fixture
async def alpha(emu: Emulator, session: aiohttp.ClientSession) -> Client:
    return await login(session, emu, "alpha")


@pytest.fixture
async def beta(emu: Emulator, session: aiohttp.ClientSession) -> Client:
    return await login(session, emu, "beta")
