"""Fixtures for the backfill and replay command tests: emulated orgs, configs, workers.

The worker subprocess, the config writer and the emulated orgs are those of the pipeline tests
(tests/support/pipeline.py), imported rather than copied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.support.pipeline import Worker, org_config, target_modules
from zoho_emulator import Emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    orgs: dict[str, Any] = {"src": org_config("src", "in", target_modules()),
                            "tgt": org_config("tgt", "us", target_modules()),
                            "tgt2": org_config("tgt2", "us", target_modules())}
    async with Emulator({"orgs": orgs}) as emulator:
        yield emulator


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test started; each must stop with exit code 0 on SIGTERM."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.alive():
            code = worker.stop()
            assert code == 0, f"worker exit code {code} on SIGTERM:\n{worker.log()}"
