"""`orgsync plan` on two orgs that already hold data: its counts, that it writes nothing, and
that the backfill after it does what it said (real broker, emulated orgs, a worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.deployment import Worker, count, records
from orgsync_kernel.topics import Topics
from tests.support.cli import orgsync
from tests.support.pipeline import (
    client,
    plain_orgs,
    read_dead_letters,
    wait_until,
    worker_env,
    write_config,
)
from zoho_emulator import Emulator

ORIGIN = "Origin_Record_Id"
ORGS = ("src", "tgt")


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return plain_orgs()


async def test_plan_counts_what_the_backfill_then_does_and_writes_nothing(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    workers: list[Worker],
) -> None:
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    names = ["Acme", "Initech", "Hooli", "Globex", "Umbrella", "Stark"]
    ids = dict(
        zip(
            names,
            [
                str(o.id)
                for o in await src.insert(
                    "Accounts", [{"Account_Name": name, "Phone": "555 0100"} for name in names]
                )
            ],
            strict=True,
        )
    )
    await tgt.insert(
        "Accounts",
        [
            {"Account_Name": "ACME", "Phone": "555 0199"},  # typed by hand: link
            {"Account_Name": "Globex"},  # twice: ambiguous
            {"Account_Name": "Globex"},
            {"Account_Name": "Umbrella", "Phone": "5550100", ORIGIN: ids["Umbrella"]},  # unchanged
            {"Account_Name": "Stark", "Phone": "555 0199", ORIGIN: ids["Stark"]},  # update
        ],
    )
    modules = {"Accounts": {"match_field": ORIGIN, "link_existing": ["Account_Name"]}}
    route = {"source": "src", "target": "tgt", "modules": modules}
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ORGS, [route]
    )
    env = worker_env(ORGS)
    writes_before = len(emu.state.orgs["tgt"].write_log)

    planned = await orgsync("plan", "--config", config, "--format", "json", env=env)
    assert planned.code == 0, planned.err
    [found] = planned.json()["routes"]
    accounts = found["modules"]["Accounts"]
    counts = {
        kind: accounts[kind] for kind in ("create", "link", "update", "unchanged", "ambiguous")
    }
    assert counts == {"create": 2, "link": 1, "update": 1, "unchanged": 1, "ambiguous": 1}
    assert accounts["samples"]["update"][0]["changes"]["Phone"] == {
        "from": "555 0199",
        "to": "555 0100",
    }
    assert sorted(accounts["samples"]["ambiguous"][0]["candidates"])
    assert len(emu.state.orgs["tgt"].write_log) == writes_before  # it wrote nothing
    text = await orgsync("plan", "--config", config, "--route", "src:tgt", env=env)
    assert text.code == 0 and "Accounts" in text.out and "AMBIGUOUS" in text.out

    worker = Worker(config, env, tmp_path)
    workers.append(worker)
    worker.start()
    result = await orgsync("backfill", "--config", config, "--route", "src:tgt", env=env)
    assert result.code == 0, result.err

    async def settled() -> bool:
        stamped = [r for r in records(emu, "tgt", "Accounts") if r[ORIGIN]]
        return len(stamped) == 5  # all but the ambiguous one

    await wait_until(settled, 60, "the accounts in tgt", worker)
    assert count(emu, "tgt", "Accounts") == 5 + counts["create"]  # created as planned, no more
    bound = {r["Account_Name"]: r for r in records(emu, "tgt", "Accounts")}["ACME"]
    assert bound[ORIGIN] == ids["Acme"]  # linked as planned
    letters = await read_dead_letters(kafka_broker, Topics(unique_name).dlq, 1)
    assert [(d.code, d.key) for d in letters] == [
        ("AMBIGUOUS_MATCH", f"src/Accounts/{ids['Globex']}")
    ]
