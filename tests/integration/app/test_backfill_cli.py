"""`orgsync backfill` against the emulator and Kafka: every record once, progress, `--force`,
usage errors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer

from bench.deployment import Worker, count, records
from orgsync_kernel.events import Change
from orgsync_kernel.topics import Topics
from tests.support.cli import orgsync
from tests.support.pipeline import (
    client,
    plain_orgs,
    wait_until,
    worker_env,
    write_config,
)
from zoho_emulator import Emulator

RECORDS = 250  # more than one page of 200


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return plain_orgs()


async def read_changes(broker: str, topic: str, expect: int) -> list[Change]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    changes: list[Change] = []
    try:
        while len(changes) < expect:
            batches = await consumer.getmany(timeout_ms=2000)
            if not batches:
                break
            changes += [Change.loads(m.value) for ms in batches.values() for m in ms]
    finally:
        await consumer.stop()
    return changes


async def test_backfill_publishes_every_record_with_progress(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    src = await client(emu, "src", session)
    rows = [{"Account_Name": f"Acme {n}"} for n in range(RECORDS)]
    ids = {
        str(o.id)
        for chunk in range(0, RECORDS, 100)
        for o in await src.insert("Accounts", rows[chunk : chunk + 100])
    }
    assert await src.count("Accounts") == RECORDS
    assert await src.count("Leads") == 0
    route = {
        "source": "src",
        "target": "tgt",
        "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
    }
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [route]
    )
    env = worker_env(("src", "tgt"))

    result = await orgsync(
        "backfill", "--config", config, "--org", "src", "--module", "Accounts", env=env
    )
    assert result.code == 0, result.err
    assert f"Accounts of src: {RECORDS}/{RECORDS} (100.0%)" in result.err
    assert "done" in result.err and "records/s" in result.err
    assert "ETA" in result.err.splitlines()[0]  # the first page is not the last
    changes = await read_changes(kafka_broker, Topics(unique_name).fetched, RECORDS)
    assert {c.id for c in changes} == ids and len(changes) == RECORDS
    assert {(c.org, c.module, c.source) for c in changes} == {("src", "Accounts", "backfill")}

    again = await orgsync(
        "backfill", "--config", config, "--org", "src", "--module", "Accounts", env=env
    )
    assert again.code == 0 and "already finished" in again.err

    forced = await orgsync(
        "backfill", "--config", config, "--org", "src", "--module", "Accounts", "--force", env=env
    )
    assert forced.code == 0, forced.err  # a forced backfill is not the finished one
    changes = await read_changes(kafka_broker, Topics(unique_name).fetched, 2 * RECORDS)
    assert [c.force for c in changes].count(True) == RECORDS
    assert {c.id for c in changes if c.force} == ids


async def test_backfill_refuses_what_no_route_syncs(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> None:
    route = {
        "source": "src",
        "target": "tgt",
        "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
    }
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [route]
    )
    env = worker_env(("src", "tgt"))
    for org, module, said in (
        ("src", "Deals", "no route syncs 'Deals'"),
        ("nowhere", "Accounts", "unknown org 'nowhere'"),
        ("tgt", "Accounts", "no route reads from this org"),
    ):
        result = await orgsync(
            "backfill", "--config", config, "--org", org, "--module", module, env=env
        )
        assert (result.code, said in result.err) == (2, True), result.err
    bad_time = await orgsync(
        "backfill",
        "--config",
        config,
        "--org",
        "src",
        "--module",
        "Accounts",
        "--since",
        "yesterday",
        env=env,
    )
    assert bad_time.code == 2 and "ISO 8601" in bad_time.err


async def test_a_route_backfills_parents_first_and_force_repairs_a_hand_edit(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    workers: list[Worker],
) -> None:
    src = await client(emu, "src", session)
    accounts = [str(o.id) for o in await src.insert("Accounts", [{"Account_Name": "Acme"}] * 3)]
    contacts = [
        {"Last_Name": f"Doe {n}", "Account_Name": {"id": accounts[n % 3]}} for n in range(9)
    ]
    await src.insert("Contacts", contacts)
    modules = {m: {"match_field": "Origin_Record_Id"} for m in ("Contacts", "Accounts")}
    config = write_config(
        tmp_path / "orgsync.yaml",
        emu.url,
        kafka_broker,
        unique_name,
        ("src", "tgt"),
        [{"source": "src", "target": "tgt", "modules": modules}],
    )
    env = worker_env(("src", "tgt"))
    worker = Worker(config, env, tmp_path)
    workers.append(worker)
    worker.start()

    result = await orgsync("backfill", "--config", config, "--route", "src:tgt", env=env)
    assert result.code == 0, result.err
    assert "backfilling Accounts, Contacts of src (parents first)" in result.err

    async def synced() -> bool:
        return count(emu, "tgt", "Contacts") == 9

    await wait_until(synced, 60, "the contacts in tgt", worker)
    target_account = {r["Origin_Record_Id"]: str(r["id"]) for r in records(emu, "tgt", "Accounts")}
    linked = [str(r["Account_Name"]["id"]) for r in records(emu, "tgt", "Contacts")]
    assert sorted(linked) == sorted(target_account[accounts[n % 3]] for n in range(9))
    assert len(emu.state.orgs["tgt"].write_log) == 12  # each record written once: none held

    # Hand-edit a target record: a plain backfill leaves it, --force repairs it, no duplicate.
    [edited, *_] = records(emu, "tgt", "Contacts")
    async with aiohttp.ClientSession() as own:
        tgt = await client(emu, "tgt", own)
        await tgt.update("Contacts", [{"id": str(edited["id"]), "Last_Name": "Typo"}])
        await tgt.stop()
    assert "Typo" in [r["Last_Name"] for r in records(emu, "tgt", "Contacts")]
    args = ("backfill", "--config", config, "--route", "src:tgt", "--module", "Contacts")
    assert (await orgsync(*args, "--force", env=env)).code == 0

    async def repaired() -> bool:
        names = [r["Last_Name"] for r in records(emu, "tgt", "Contacts")]
        return "Typo" not in names and len(names) == 9

    await wait_until(repaired, 60, "the hand-edited contact repaired", worker)


BULK_RECORDS = 20_000


async def test_a_bulk_read_backfill_spends_fewer_calls_and_credits_than_list_pages(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    src = await client(emu, "src", session)
    for start in range(0, BULK_RECORDS, 100):
        await src.insert("Accounts", [{"Account_Name": f"Acme {start + n}"} for n in range(100)])
    modules = {"Accounts": {"match_field": "Origin_Record_Id"}}
    route = {"source": "src", "target": "tgt", "modules": modules}
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [route]
    )
    env = worker_env(("src", "tgt"))
    stats = emu.state.orgs["src"].stats
    spent: list[tuple[int, int]] = []
    started: list[float] = []
    for bulk in ("never", "always"):
        started.append(time.time())
        before = sum(sum(paths.values()) for paths in stats.calls.values()), stats.credits_used
        args = ("--org", "src", "--module", "Accounts", "--bulk", bulk)
        result = await orgsync("backfill", "--config", config, *args, env=env, within=180)
        assert result.code == 0, result.err
        after = sum(sum(paths.values()) for paths in stats.calls.values()), stats.credits_used
        spent.append((after[0] - before[0], after[1] - before[1]))
    (paged_calls, paged_credits), (bulk_calls, bulk_credits) = spent
    assert paged_calls >= BULK_RECORDS // 200 and paged_credits >= BULK_RECORDS // 200
    assert bulk_calls < 10 and 50 <= bulk_credits < paged_credits
    changes = await read_changes(kafka_broker, Topics(unique_name).fetched, 2 * BULK_RECORDS)
    paged = [c for c in changes if c.received_at < started[1]]
    bulked = [c for c in changes if c.received_at >= started[1]]
    assert {c.id for c in paged} == {c.id for c in bulked} and len(bulked) == BULK_RECORDS
    same = {c.id: c.record["Account_Name"] for c in paged}
    assert all(same[c.id] == c.record["Account_Name"] for c in bulked)
