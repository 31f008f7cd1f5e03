"""The first start of this release on the state of one before it: the record states that
lived in the one partition of `states` move to their records' partitions of `record-states`
(once), and the two-way links of `links` to `record-links`; a worker that owns a partition then
holds its share of them, and nothing else."""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer

from connectors.kafka import partition_of
from connectors.kafka.cluster import KafkaCluster
from orgsync_kernel.events import link_key, record_key
from orgsync_kernel.topics import Topics
from pipeline.worker.state import MOVED_STATES, PipelineState

PARTITIONS = 4


def state(tier: str) -> dict[str, object]:
    return {"values": {"Tier": tier}, "versions": {"Tier": [1767261600, 0]}, "modified": None}


async def test_record_states_and_two_way_links_of_an_earlier_release_move_to_their_partitions(
    kafka_broker: str, kafka_producer: AIOKafkaProducer, unique_name: str
) -> None:
    topics = Topics(unique_name)
    cluster = KafkaCluster(kafka_broker)
    old = PipelineState(cluster, topics, PARTITIONS)
    await old.create_topics()
    keys = [record_key("tgt", "Accounts", str(n)) for n in range(12)]
    for n, key in enumerate(keys):
        await kafka_producer.send_and_wait(
            topics.states, orjson.dumps(state(f"t{n}")), key.encode()
        )
    link = link_key("tgt", "Accounts", "3", "src")  # tgt is written into: shared before
    await kafka_producer.send_and_wait(topics.links, b'"7"', link.encode(), partition=0)

    first = PipelineState(cluster, topics, PARTITIONS, local_orgs={"src", "tgt"})
    await first.start(kafka_producer)
    await first.stop()
    assert first.links.shared.get(MOVED_STATES) is True and link not in first.links.shared

    linked = record_key("tgt", "Accounts", "3")
    mine = {partition_of(keys[0], PARTITIONS), partition_of(linked, PARTITIONS)}
    again = PipelineState(cluster, topics, PARTITIONS, local_orgs={"src", "tgt"})
    await again.start(kafka_producer)  # moved once: nothing is moved twice
    try:
        await again.own(mine)
        held = {key for key in keys if partition_of(key, PARTITIONS) in mine}
        assert set(again.states) == held
        assert again.states[keys[0]]["values"] == {"Tier": "t0"}
        assert again.links.get(link) == "7"  # in its partition of record-links now
    finally:
        await again.stop()
