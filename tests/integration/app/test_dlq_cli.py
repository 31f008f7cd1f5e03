"""`orgsync dlq`: permanent rejections land in the DLQ; retried after the fix, they arrive."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import SECRET, count, records, worker_env, write_config
from connectors.kafka import KafkaProducer
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from orgsync_kernel.config_file import load_settings
from orgsync_kernel.topics import Topics
from orgsync_operations.dlq import DlqStore, partitions_of
from tests.support.cli import Result, orgsync
from tests.support.dlq import letter, make_optional, publish
from tests.support.pipeline import by_field, client, send_hints, wait_until
from zoho_emulator import Emulator

ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
}


async def dlq(config: Path, *args: str) -> Result:
    result = await orgsync(
        "dlq", args[0], "--config", str(config), *args[1:], env=worker_env(("src", "tgt"))
    )
    assert SECRET not in result.stdout + result.stderr
    return result


async def open_entries(config: Path) -> list[dict[str, Any]]:
    result = await dlq(config, "list", "--format", "json")
    assert result.code == 0, result.stderr
    entries: list[dict[str, Any]] = result.json()
    return entries


async def test_rejected_records_are_retried_after_the_data_is_fixed(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
    tmp_path: Path,
) -> None:
    worker = make_worker([ROUTE])
    worker.start()
    src = await client(emu, "src", session)
    rows = [{"Account_Name": f"Good {n}", "Tier": "gold"} for n in range(3)]
    rows += [{"Account_Name": "Fixed in source"}, {"Account_Name": "Fixed in target"}]
    ids = [str(o.id) for o in await src.insert("Accounts", rows)]
    fixed_in_source, fixed_in_target = ids[3], ids[4]
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Accounts", ids)
    config = worker.config
    first: list[dict[str, Any]] = []

    async def two_dead_letters() -> bool:
        first[:] = await open_entries(config)
        return len(first) == 2

    await wait_until(two_dead_letters, 60, "two DLQ entries", worker)
    assert count(emu, "tgt", "Accounts") == 3
    assert {(e["code"], e["stage"], e["route"]) for e in first} == {
        ("MANDATORY_NOT_FOUND", "write", "src->tgt")
    }
    assert {e["key"] for e in first} == {f"src/Accounts/{i}" for i in ids[3:]}

    # The operator fixes one record in the source; the other stays as it was.
    await src.update("Accounts", [{"id": fixed_in_source, "Tier": "silver"}])
    retried = await dlq(config, "retry", "--all")
    assert retried.code == 0, retried.stderr
    assert "2 retried, 0 failed" in retried.stdout

    async def fixed_one_synced() -> bool:
        return count(emu, "tgt", "Accounts") == 4

    await wait_until(fixed_one_synced, 60, "the record fixed in the source", worker)
    synced = by_field(records(emu, "tgt", "Accounts"), "Origin_Record_Id")
    assert synced[fixed_in_source]["Tier"] == "silver"
    again: list[dict[str, Any]] = []

    async def failed_again() -> bool:
        again[:] = await open_entries(config)
        return len(again) == 1

    # The unfixed one was re-sent, failed again, and is back under a new id.
    await wait_until(failed_again, 60, "the unfixed record back in the DLQ", worker)
    assert again[0]["key"] == f"src/Accounts/{fixed_in_target}"
    assert again[0]["id"] not in {e["id"] for e in first}

    # Now the fix is made in the target (the field becomes optional): the same write succeeds.
    make_optional(emu, "tgt", "Accounts", "Tier")
    retried = await dlq(config, "retry", again[0]["id"])
    assert retried.code == 0, retried.stderr
    assert "the failed write" in retried.stdout

    async def all_synced() -> bool:
        return count(emu, "tgt", "Accounts") == 5

    await wait_until(all_synced, 60, "the record fixed in the target", worker)
    assert set(by_field(records(emu, "tgt", "Accounts"), "Origin_Record_Id")) == set(ids)
    assert await open_entries(config) == []


async def test_purge_show_and_unknown_entries(
    emu: Emulator,
    kafka_broker: str,
    kafka_producer: AIOKafkaProducer,
    unique_name: str,
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [ROUTE]
    )
    topic = Topics(unique_name).dlq
    await ensure_topics(KafkaCluster(kafka_broker), [topic], 4)
    change = {"org": "src", "module": "Accounts", "id": "1", "record": {"Tier": "x"}}
    a, b, c = (
        letter("src->tgt", "transform", f"src/Accounts/{n}", change, failed_at=1000.0 + n)
        for n in range(3)
    )
    await publish(kafka_producer, topic, a, b, c)

    table = await dlq(config, "list")
    assert table.code == 0 and "3 open entries" in table.stdout
    assert [ln.split()[0] for ln in table.stdout.splitlines()[1:4]] == [c.id, b.id, a.id]

    assert (await dlq(config, "purge", a.id)).code == 0
    assert [e["id"] for e in await open_entries(config)] == [c.id, b.id]
    shown = await dlq(config, "show", a.id)
    assert shown.code == 0
    assert shown.json()["state"]["state"] == "purged"
    assert shown.json()["record"] == change

    by_route = await dlq(config, "list", "--route", "src:tgt", "--format", "json")
    assert [e["id"] for e in by_route.json()] == [c.id, b.id]
    assert (await dlq(config, "list", "--route", "tgt:src")).stdout.endswith("0 open entries\n")
    purged = await dlq(config, "purge", "--all", "--route", "src->tgt", "--format", "json")
    assert purged.code == 0 and sorted(purged.json()["purged"]) == sorted([b.id, c.id])
    assert "deprecated, use src:tgt" in purged.stderr
    assert await open_entries(config) == []
    show, retry, usage = await asyncio.gather(
        dlq(config, "show", "no-such-entry"),
        dlq(config, "retry", "no-such-entry"),
        dlq(config, "purge"),
    )
    assert (show.code, retry.code, usage.code) == (1, 1, 2)
    assert "no DLQ entry" in show.stderr and "no DLQ entry" in retry.stderr


async def test_a_long_lived_store_follows_new_entries_on_one_kafka_consumer(
    emu: Emulator,
    kafka_broker: str,
    kafka_producer: AIOKafkaProducer,
    unique_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The status page and the DLQ gauge refresh every few seconds: each refresh reads only
    what is new, on the consumer it already has (assigned once, not once per refresh)."""
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [ROUTE]
    )
    settings = load_settings(config, worker_env(("src", "tgt")))
    change = {"org": "src", "module": "Accounts", "id": "1", "record": {"Tier": "x"}}
    store = DlqStore(settings, KafkaProducer(KafkaCluster(kafka_broker)), keep_done=False)
    caplog.set_level(logging.INFO, logger="aiokafka.consumer.subscription_state")
    admin_lookups: list[object] = []

    async def counted_partitions_of(*args: Any) -> Any:
        admin_lookups.append(args)
        return await partitions_of(*args)

    monkeypatch.setattr("orgsync_operations.dlq.partitions_of", counted_partitions_of)
    try:
        await store.start()
        assert store.entries() == []
        for n in range(3):
            entry = letter("src->tgt", "transform", f"src/Accounts/{n}", change)
            await publish(kafka_producer, Topics(unique_name).dlq, entry)
            await store.refresh()
            assert [e.letter.id for e in store.entries()][:1] == [entry.id]
        assert len(store.entries()) == 3
    finally:
        await store.close()
    assignments = [
        r
        for r in caplog.records
        if "Updating subscribed topics" in r.getMessage() or "assigned" in r.getMessage().lower()
    ]
    assert len(assignments) <= 1, [r.getMessage() for r in assignments]
    assert len(admin_lookups) <= 1  # later refreshes take the partitions from the consumer
