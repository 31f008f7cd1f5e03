"""A field removed from the target while orgsync runs is said, counted and explained (issue 18)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import ORIGIN, free_port, org_config, records, target_modules, worker_env
from orgsync_kernel.topics import Topics
from tests.support.cli import orgsync as run_cli
from tests.support.pipeline import client, send_hints, wait_until
from zoho_emulator import Emulator

TIER = {"api_name": "Tier", "data_type": "text"}
ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": ORIGIN, "fields": ["Account_Name", "Tier"]}},
}


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return {
        "src": org_config("src", "in", target_modules(Accounts=TIER)),
        "tgt": org_config("tgt", "us", target_modules(Accounts=TIER)),
    }


async def test_a_removed_target_field_is_a_drift_warning_and_a_check_failure(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    worker = make_worker(
        [ROUTE],
        processor={"metadata_refresh_seconds": 1},
        worker={"metrics_listen": f"127.0.0.1:{port}"},
    )
    worker.start()
    src = await client(emu, "src", session)
    hints = Topics(unique_name).hints
    [made] = await src.insert("Accounts", [{"Account_Name": "Acme", "Tier": "gold"}])
    await send_hints(kafka_producer, hints, "src", "Accounts", [str(made.id)], "insert")

    async def synced() -> bool:
        return any(r.get(ORIGIN) == str(made.id) for r in records(emu, "tgt", "Accounts"))

    await wait_until(synced, 60, "the account in the target", worker)
    target = emu.state.orgs["tgt"]
    accounts = target.modules["Accounts"]
    fields = {name: f for name, f in accounts.fields.items() if name != "Tier"}
    target.modules["Accounts"] = replace(accounts, fields=fields)

    async def said() -> bool:
        # Each change makes the worker ask for the fields; after a refresh it sees the drift.
        await send_hints(kafka_producer, hints, "src", "Accounts", [str(made.id)])
        return "org=tgt module=Accounts field=Tier kind=removed" in worker.log(None)

    await wait_until(said, 60, "the drift warning", worker)
    assert worker.log(None).count("field=Tier kind=removed") == 1  # said once, not per change
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        metrics = await response.text()
    drift = 'orgsync_schema_drift_total{kind="removed",module="Accounts",org="tgt"} 1.0'
    assert drift in metrics

    checked = await run_cli(
        "check",
        "--config",
        tmp_path / "orgsync.yaml",
        "--format",
        "json",
        env=worker_env(("src", "tgt")),
    )
    assert checked.code == 1
    failed = {
        row["check"]: row["detail"] for row in checked.json()["checks"] if row["result"] == "FAIL"
    }
    assert failed["fields"] == "missing in tgt: Tier"
