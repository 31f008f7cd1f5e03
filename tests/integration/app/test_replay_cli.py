"""`orgsync replay`: a target route added later is filled from the change log, exactly once.

Sync src -> tgt; restart the worker with the route src -> tgt2 added; replay from the start
while it runs: tgt2 receives every record exactly once and tgt receives nothing again (its route
already wrote those changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import (
    Worker,
    count,
    org_config,
    records,
    target_modules,
    worker_env,
    write_config,
)
from orgsync_kernel.topics import Topics
from tests.support.cli import orgsync
from tests.support.pipeline import by_field, client, send_hints, wait_until
from zoho_emulator import Emulator

RECORDS = 30
ORGS = ("src", "tgt", "tgt2")


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    """Plain orgs, without the pipeline tests' Tier fields."""
    return {
        "src": org_config("src", "in", target_modules()),
        "tgt": org_config("tgt", "us", target_modules()),
        "tgt2": org_config("tgt2", "us", target_modules()),
    }


def route(target: str) -> dict[str, object]:
    return {
        "source": "src",
        "target": target,
        "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
    }


async def test_replay_fills_a_new_target_exactly_once(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    kafka_producer: AIOKafkaProducer,
    workers: list[Worker],
) -> None:
    env = worker_env(ORGS)
    before = write_config(
        tmp_path / "before.yaml", emu.url, kafka_broker, unique_name, ORGS, [route("tgt")]
    )
    after = write_config(
        tmp_path / "after.yaml",
        emu.url,
        kafka_broker,
        unique_name,
        ORGS,
        [route("tgt"), route("tgt2")],
    )
    first = Worker(before, env, tmp_path)
    workers.append(first)
    first.start()
    src = await client(emu, "src", session)
    ids = [
        str(o.id)
        for o in await src.insert(
            "Accounts", [{"Account_Name": f"Acme {n}"} for n in range(RECORDS)]
        )
    ]
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Accounts", ids, "insert")

    async def synced() -> bool:
        return count(emu, "tgt", "Accounts") == RECORDS

    await wait_until(synced, 60, "the accounts in tgt", first)
    assert first.stop() == 0
    second = Worker(after, env, tmp_path)  # the new route needs a restart with its config
    workers.append(second)
    second.start()
    tgt_writes = len(emu.state.orgs["tgt"].write_log)

    unknown = await orgsync(
        "replay", "--config", after, "--from", "0", "--route", "src:nope", env=env
    )
    assert unknown.code == 2 and "no route 'src:nope'" in unknown.err
    dry = await orgsync("replay", "--config", after, "--from", "0", "--dry-run", env=env)
    assert dry.code == 0 and f"{RECORDS} changes of {unique_name}.changes" in dry.out
    assert "dry run: nothing appended" in dry.out
    dry_json = await orgsync(
        "replay", "--config", after, "--from", "0", "--dry-run", "--format", "json", env=env
    )
    assert dry_json.code == 0, dry_json.err
    assert (dry_json.json()["changes"], dry_json.json()["appended"]) == (RECORDS, None)
    replayed = await orgsync(
        "replay",
        "--config",
        after,
        "--from",
        "1970-01-01T00:00:00Z",
        "--route",
        "src:tgt2",
        env=env,
    )
    assert replayed.code == 0, replayed.err
    assert f"appended {RECORDS} changes of src for route src:tgt2" in replayed.out

    async def filled() -> bool:
        return count(emu, "tgt2", "Accounts") == RECORDS

    await wait_until(filled, 60, "the replayed accounts in tgt2", second)
    assert set(by_field(records(emu, "tgt2", "Accounts"), "Origin_Record_Id")) == set(ids)
    assert len(emu.state.orgs["tgt2"].write_log) == RECORDS  # each record written once
    assert len(emu.state.orgs["tgt"].write_log) == tgt_writes  # the old route skipped them
