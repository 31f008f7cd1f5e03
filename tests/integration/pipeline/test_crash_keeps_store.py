"""A worker killed -9 keeps its store: the start after the kill reads only what its state topics
hold after the last checkpoint the store kept (not the whole topics), and loses and
duplicates nothing — a record edited and synced after that checkpoint is not written again
when it is notified again, one edited while the worker was down is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer
from rocksdict import AccessType, Options, Rdict

from bench.deployment import Worker, count, records
from connectors.kafka.cluster import KafkaCluster
from connectors.kafka.disk import CHECKPOINT, STORE
from orgsync_kernel.topics import Topics
from orgsync_operations.offsets import GroupOffsets
from tests.support.pipeline import by_field, calls, client, send_hints, wait_until
from zoho_emulator import Emulator

ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
}
WRITES = ("POST /crm/v8/Accounts/upsert", "PUT /crm/v8/Accounts")  # new records, updates by id
RECORDS = 20


def checkpointed(state: Path) -> dict[str, int]:
    """The offsets a crash would find now: the checkpoint in what RocksDB flushed to its
    files (a read-only open sees no memtable), read beside the running worker."""
    if not (state / STORE / "CURRENT").exists():
        return {}
    db = Rdict(str(state / STORE), Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        raw = db.get(CHECKPOINT)
    finally:
        db.close()
    return {} if raw is None else orjson.loads(raw)  # type: ignore[arg-type]


def fingerprints_loaded(worker: Worker, topic: str) -> list[tuple[int, str]]:
    """(messages read, resumed after) of each fingerprints partition the worker loaded."""
    line = rf"state loaded\"? topic={re.escape(topic)} partition=\d+ messages=(\d+) after=(\S+)"
    return [(int(m[0]), m[1]) for m in re.findall(line, worker.log(None))]


async def test_a_worker_killed_9_resumes_at_its_checkpoint_and_loses_nothing(
    emu: Emulator,
    make_worker: Any,
    kafka_broker: str,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
    tmp_path: Path,
) -> None:
    topics, state = Topics(unique_name), tmp_path / "state"
    worker = make_worker([ROUTE], worker={"state_dir": str(state)})
    worker.start()
    src = await client(emu, "src", session)
    ids = [
        str(o.id)
        for o in await src.insert(
            "Accounts", [{"Account_Name": f"Kept {n}", "Tier": "gold"} for n in range(RECORDS)]
        )
    ]
    await send_hints(kafka_producer, topics.hints, "src", "Accounts", ids)
    await wait_until(lambda: _true(count(emu, "tgt", "Accounts") == RECORDS), 60, "sync", worker)

    def covered() -> int:  # fingerprint messages a checkpoint the store kept stands for
        found = checkpointed(state / "worker-0")
        return sum(at + 1 for name, at in found.items() if name.startswith("fingerprints-"))

    await wait_until(lambda: _true(covered() >= RECORDS), 60, "a kept checkpoint", worker)
    await edit(src, ids[0], "Edited before the kill")
    await send_hints(kafka_producer, topics.hints, "src", "Accounts", [ids[0]])
    await wait_until(lambda: _true(named(emu, ids[0], "Edited before the kill")), 30, "edit")
    worker.kill()

    await edit(src, ids[1], "Edited while down")
    written = writes(emu)
    restarted = make_worker([ROUTE], log_name="restarted.log", worker={"state_dir": str(state)})
    restarted.start()
    await send_hints(kafka_producer, topics.hints, "src", "Accounts", ids)  # all again
    await wait_until(lambda: _true(named(emu, ids[1], "Edited while down")), 60, "edit", restarted)
    await wait_until(lambda: no_lag(kafka_broker, topics), 60, "every hint processed", restarted)

    loaded = fingerprints_loaded(restarted, topics.fingerprints)
    assert loaded and all(after != "None" for _, after in loaded), loaded  # resumed, not rebuilt
    assert sum(read for read, _ in loaded) < RECORDS, loaded  # the topics' tail only
    assert count(emu, "tgt", "Accounts") == RECORDS  # nothing duplicated
    assert writes(emu) == written + 1  # only the record edited while down
    names = {row["Origin_Record_Id"]: row["Account_Name"] for row in target_rows(emu)}
    expected = {i: f"Kept {n}" for n, i in enumerate(ids)}
    assert names == expected | {ids[0]: "Edited before the kill", ids[1]: "Edited while down"}


def writes(emu: Emulator) -> int:
    return sum(calls(emu, "tgt", call) for call in WRITES)


async def edit(src: Any, record_id: str, name: str) -> None:
    await src.update("Accounts", [{"id": record_id, "Account_Name": name}])


def target_rows(emu: Emulator) -> list[dict[str, Any]]:
    return list(by_field(records(emu, "tgt", "Accounts"), "id").values())


def named(emu: Emulator, record_id: str, name: str) -> bool:
    return any(
        row.get("Origin_Record_Id") == record_id and row.get("Account_Name") == name
        for row in records(emu, "tgt", "Accounts")
    )


async def no_lag(broker: str, topics: Topics) -> bool:
    async with GroupOffsets(KafkaCluster(broker), topics.rounds_group) as offsets:
        return (await offsets.lag([topics.hints])).get(topics.hints, 1) == 0


async def _true(value: bool) -> bool:
    return value
