"""Fixtures for the backfill and replay command tests: emulated orgs, configs, workers.

The worker subprocess, the config writer and the emulated orgs are those of the pipeline tests
(tests/integration/pipeline/pipeline_support.py), imported rather than copied.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))

from pipeline_support import Worker, org_config, target_modules  # noqa: E402

from zoho_emulator import Emulator  # noqa: E402


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
