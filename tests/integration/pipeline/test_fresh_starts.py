"""A worker started on topics that do not exist yet, with the CPU busy, syncs its first record:
20 starts, each on a fresh topic prefix, none may hang (seen before the round loop: about one
start in six never became ready while Faust waited for just-created changelogs)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import Worker, count, worker_env, write_config
from orgsync_kernel.topics import Topics
from tests.support.pipeline import client, send_hints, wait_until
from zoho_emulator import Emulator

STARTS = 20
ROUTE: dict[str, Any] = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
}


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait(timeout=10)


async def test_every_start_on_fresh_topics_syncs_under_cpu_load(
    cpu_hog: None,
    emu: Emulator,
    kafka_broker: str,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
    tmp_path: Path,
) -> None:
    src = await client(emu, "src", session)
    for start in range(STARTS):
        prefix = f"{unique_name}-{start}"
        config = write_config(
            tmp_path / f"orgsync-{start}.yaml",
            emu.url,
            kafka_broker,
            prefix,
            ("src", "tgt"),
            [ROUTE],
        )
        worker = Worker(config, worker_env(("src", "tgt")), tmp_path, log_name=f"w{start}.log")
        worker.start()
        try:
            assigned = re.compile(
                rf"partitions assigned.* topic={re.escape(Topics(prefix).hints)} partitions=0,1,2,3"
            )

            async def ready(worker: Worker = worker, line: re.Pattern[str] = assigned) -> bool:
                return line.search(worker.log(None)) is not None

            await wait_until(ready, 60, f"start {start}: the round loop's partitions", worker)
            [created] = await src.insert(
                "Accounts", [{"Account_Name": f"Fresh {start}", "Tier": "gold"}]
            )
            await send_hints(kafka_producer, Topics(prefix).hints, "src", "Accounts", [created.id])

            async def synced(expected: int = start + 1) -> bool:
                return count(emu, "tgt", "Accounts") == expected

            await wait_until(synced, 60, f"start {start}: its record in the target", worker)
        finally:
            assert await worker.terminate() == 0, worker.log()
