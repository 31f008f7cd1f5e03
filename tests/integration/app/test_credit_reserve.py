"""The credit reserve holds for the deployment: a backfill (its own process) stops at the
reserve counting what the worker spent, and waits there while the worker still syncs live
changes (real broker, emulated orgs, a worker and `orgsync backfill` as processes). The wait
is not silent (issue 28): the backfill says on stderr that it is held at the reserve, naming
the org, budget, reserve and spend, with an ETA that counts the wait; the status page's data
(from the credits topic) shows it held and who shares the org's slots."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from bench.deployment import Worker, records
from connectors.kafka.cluster import KafkaCluster
from connectors.kafka.compacted import CompactedReader, CompactedTable
from orgsync_kernel.config_file import load_settings
from orgsync_kernel.topics import Topics
from orgsync_operations.dashboard import presence_cells
from orgsync_operations.kafka_state import KafkaState
from tests.support.pipeline import (
    client,
    plain_orgs,
    send_hints,
    wait_until,
    worker_env,
    write_config,
)
from zoho_emulator import Emulator

BUDGET, RESERVE = 30, 0.5  # low priority may spend 15 credits a day in src
LIVE_ROUNDS = 5
ORGS = ("src", "tgt")


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return plain_orgs()


async def spent(broker: str, topic: str) -> dict[str, int]:
    """Per process key, the src credits it published."""
    table = CompactedTable(topic, followed=False)
    await CompactedReader(KafkaCluster(broker)).load(table, [0])
    return {
        key: sum(int(n) for n in buckets.values())
        for key, buckets in table.items()
        if key.startswith("src|") and isinstance(buckets, dict)
    }


async def held_on_the_status_page(config: Path, env: dict[str, str]) -> dict[str, str]:
    """The status page's cells for src, from the deployment's credits topic."""
    state = KafkaState(load_settings(config, env))
    await state.start()
    try:
        return presence_cells(state.presence("src", time.time()), time.time())
    finally:
        await state.stop()


async def test_a_backfill_stops_at_the_shared_reserve_while_live_changes_sync(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    kafka_producer: AIOKafkaProducer,
    workers: list[Worker],
) -> None:
    src = await client(emu, "src", session)
    for start in range(0, 4000, 100):  # 20 pages of 200: more than the reserve lets through
        await src.insert("Accounts", [{"Account_Name": f"Old {start + n}"} for n in range(100)])
    route = {
        "source": "src",
        "target": "tgt",
        "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
    }
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ORGS, [route]
    )
    raw = yaml.safe_load(config.read_text())
    raw["orgs"]["src"].update(daily_credit_budget=BUDGET, credit_reserve=RESERVE)
    config.write_text(yaml.safe_dump(raw))
    env, topics = worker_env(ORGS), Topics(unique_name)
    worker = Worker(config, env, tmp_path)
    workers.append(worker)
    worker.start()

    async def live_change(n: int) -> None:
        [made] = await src.insert("Accounts", [{"Account_Name": f"Live {n}"}])
        await send_hints(kafka_producer, topics.hints, "src", "Accounts", [str(made.id)], "insert")

        async def synced() -> bool:
            return any(r["Account_Name"] == f"Live {n}" for r in records(emu, "tgt", "Accounts"))

        await wait_until(synced, 60, f"live change {n} in tgt", worker)

    for n in range(LIVE_ROUNDS):  # the worker spends src credits: a read per round at least
        await live_change(n)

    async def worker_published() -> bool:
        return sum((await spent(kafka_broker, topics.credits)).values()) >= LIVE_ROUNDS

    await wait_until(worker_published, 30, "the worker's credits in the shared count", worker)
    [worker_key] = await spent(kafka_broker, topics.credits)
    by_worker = (await spent(kafka_broker, topics.credits))[worker_key]
    ceiling = BUDGET - int(BUDGET * RESERVE)

    args = ("backfill", "--config", str(config), "--org", "src", "--module", "Accounts")
    log = (tmp_path / "backfill.log").open("wb")
    backfill = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orgsync.cli", *args, env=env, stdout=log, stderr=log
    )
    try:

        async def at_reserve() -> bool:
            found = await spent(kafka_broker, topics.credits)
            return sum(n for key, n in found.items() if key != worker_key) >= ceiling - by_worker

        await wait_until(at_reserve, 60, "the backfill at the reserve")
        await live_change(LIVE_ROUNDS)  # live traffic still gets through, from the reserve
        assert backfill.returncode is None  # the backfill waits: it has not finished
        found = await spent(kafka_broker, topics.credits)
        by_backfill = sum(n for key, n in found.items() if key != worker_key)
        assert by_backfill == ceiling - by_worker  # it counted the worker's credits

        def told() -> str:
            return (tmp_path / "backfill.log").read_text()

        async def says_so() -> bool:
            return "waiting at the credit reserve" in told()

        await wait_until(says_so, 30, "the backfill saying it waits at the reserve")
        held = re.search(
            r"held at the credit reserve org=src budget=30 reserve=15 spent=1\d", told()
        )
        assert held, told()
        [eta] = re.findall(r"waiting at the credit reserve  ETA (\d+):\d\d:\d\d", told())
        assert int(eta) >= 23, told()  # the credits leave the window in a day, not a second
        cells = await held_on_the_status_page(config, env)
        assert cells["processes"] == "backfill, worker"
        assert cells["held"].startswith("backfill: resumes in 23:"), cells
    finally:
        backfill.kill()
        await backfill.wait()
        log.close()
