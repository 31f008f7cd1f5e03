"""A worker of this release started on topics that hold values of earlier releases
(tests/fixtures/schema_v1, version 1, before schema versions; schema_v2, version 2, before the
state on disk and field versions): it takes the state over from the topics — it syncs a
recorded hint's record exactly once, honours a recorded fingerprint (a stale update is dropped)
and a recorded link (a delete reaches the linked target record), which moves from the one
partition of `links` to its record's partition of `record-links`."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from connectors.kafka import partition_of
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from orgsync_kernel import schema
from orgsync_kernel.topics import Topics
from tests.support.pipeline import MakeWorker, client, read_messages, wait_until
from zoho_emulator import Emulator

FIXTURES = Path(__file__).parents[2] / "fixtures"
A, B, B_TARGET = "1000000000000000001", "1000000000000000002", "2000000000000000002"
ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id", "delete": True}},
}


def recorded(kind: str, ids: dict[str, str], version: int) -> list[tuple[bytes, bytes]]:
    """The recorded messages of `kind`, the fixture's ids swapped for the emulated ones."""
    text = (FIXTURES / f"schema_v{version}" / f"{kind}.json").read_text()
    for fixed, real in ids.items():
        text = text.replace(fixed, real)
    return [(r["key"].encode(), r["value"].encode()) for r in orjson.loads(text) if r["value"]]


@pytest.mark.parametrize("version", [1, 2])
async def test_a_worker_takes_over_what_an_earlier_release_left_in_kafka(
    emu: Emulator,
    kafka_broker: str,
    kafka_producer: AIOKafkaProducer,
    make_worker: MakeWorker,
    session: aiohttp.ClientSession,
    unique_name: str,
    version: int,
) -> None:
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    a, b = await src.insert(
        "Accounts", [{"Account_Name": "A", "Tier": "gold"}, {"Account_Name": "B", "Tier": "new"}]
    )
    [b_copy] = await tgt.insert(
        "Accounts", [{"Account_Name": "B", "Tier": "old", "Origin_Record_Id": b.id}]
    )
    ids = {A: str(a.id), B: str(b.id), B_TARGET: str(b_copy.id)}
    topics = Topics(unique_name)
    cluster = KafkaCluster(kafka_broker)
    await ensure_topics(cluster, [topics.hints], 4)
    await ensure_topics(cluster, [topics.fingerprints], 4, compacted=True)
    await ensure_topics(cluster, [topics.links], 1, compacted=True)
    [link, back, *_] = recorded("links", ids, version)
    [fingerprint] = recorded("fingerprints", ids, version)  # B's, from 2099: B's update is stale
    [hint_a, hint_b, delete_b] = recorded("hints", ids, version)
    headers = [] if version == 1 else [(schema.HEADER, str(version).encode())]
    for key, value in [link, back]:
        await kafka_producer.send_and_wait(topics.links, value, key, partition=0, headers=headers)
    fingerprint_at = partition_of(fingerprint[0].decode(), 4)
    await kafka_producer.send_and_wait(
        topics.fingerprints, fingerprint[1], fingerprint[0], fingerprint_at, headers=headers
    )
    for key, value in [hint_a, hint_b]:
        await kafka_producer.send_and_wait(topics.hints, value, key)
    worker = make_worker([ROUTE])
    worker.start()

    async def a_synced() -> bool:
        rows = emu.state.orgs["tgt"].stores["Accounts"].records.values()
        return any(r.values.get("Origin_Record_Id") == str(a.id) for r in rows)

    await wait_until(a_synced, 12, "A in the target", worker)
    await src.delete("Accounts", [str(b.id)])
    await kafka_producer.send_and_wait(topics.hints, delete_b[1], delete_b[0])

    async def b_deleted() -> bool:
        return str(b_copy.id) not in emu.state.orgs["tgt"].stores["Accounts"].records

    await wait_until(b_deleted, 10, "the linked copy of B deleted", worker)
    rows = emu.state.orgs["tgt"].stores["Accounts"].records.values()
    [a_copy] = [r.id for r in rows if r.values.get("Origin_Record_Id") == str(a.id)]
    writes = [(w["op"], w["id"]) for w in emu.state.orgs["tgt"].write_log]
    assert [w for w in writes if w[1] == a_copy] == [("insert", a_copy)], writes  # exactly once
    assert [op for op, i in writes if i == str(b_copy.id)] == ["insert", "delete"], writes
    # src is only read from: its records' links moved to their partitions of record-links
    moved = await read_messages(
        kafka_broker, topics.record_links, lambda m: any(x.key == link[0] for x in m)
    )
    assert link[0].startswith(b"tgt|src/") and any(m.key == link[0] for m in moved)
