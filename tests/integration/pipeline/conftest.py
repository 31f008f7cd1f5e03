"""Fixtures for the pipeline tests: the emulator with a source and targets, a worker factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pipeline_support import Worker, org_config, target_modules, worker_env, write_config

from zoho_emulator import Emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return {
        "src": org_config("src", "in", target_modules(Accounts={"api_name": "Tier",
                                                               "data_type": "text"})),
        "tgt": org_config("tgt", "us", target_modules(Accounts={"api_name": "Tier",
                                                               "data_type": "text",
                                                               "mandatory": True})),
        "tgt2": org_config("tgt2", "us", target_modules()),
    }


@pytest.fixture
async def emu(emulator_orgs: dict[str, Any]) -> AsyncIterator[Emulator]:
    async with Emulator({"orgs": emulator_orgs}) as emulator:
        yield emulator


MakeWorker = Callable[..., Worker]


@pytest.fixture
async def make_worker(emu: Emulator, kafka_broker: str, unique_name: str,
                      tmp_path: Path) -> AsyncIterator[MakeWorker]:
    workers: list[Worker] = []

    def make(sync: list[dict[str, Any]], orgs: tuple[str, ...] = ("src", "tgt"),
             log_name: str = "worker.log", **overrides: Any) -> Worker:
        config = write_config(tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name,
                              orgs, sync, **overrides)
        worker = Worker(config, worker_env(orgs), tmp_path, log_name=log_name)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        if worker.alive():
            code = await worker.terminate()
            assert code == 0, f"worker exit code {code} on SIGTERM:\n{worker.log()}"
