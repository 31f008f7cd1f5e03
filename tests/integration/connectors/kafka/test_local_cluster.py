"""The 3-node cluster of tests/support/cluster.py survives its partition leader's node: an
acks=all producer goes on after the election, and the node comes back (issue 19, part 1)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.cluster import LocalCluster


async def leader_other_than(cluster: LocalCluster, topic: str, old: int | None) -> int:
    """The partition's leader once it is a node other than `old`, polled for at most 30 s."""
    deadline = time.monotonic() + 30
    while (leader := await cluster.leader_of(topic, 0)) is None or leader == old:
        assert time.monotonic() < deadline, f"{topic}: no leader other than node {old} in 30 s"
        await asyncio.sleep(0.2)
    return leader


async def test_acks_all_producer_survives_the_leaders_node(
    kafka_cluster: LocalCluster, unique_name: str
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_cluster.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(unique_name, 1, 3)])
    finally:
        await admin.close()
    old = await leader_other_than(kafka_cluster, unique_name, None)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_cluster.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(unique_name, b"before")
        await asyncio.to_thread(kafka_cluster.stop_node, old)
        try:
            await leader_other_than(kafka_cluster, unique_name, old)
            # Two replicas left meet min ISR 2, so acks=all still succeeds.
            sent = await asyncio.wait_for(producer.send_and_wait(unique_name, b"after"), 30)
            assert sent.offset == 1
        finally:
            await asyncio.to_thread(kafka_cluster.start_node, old)
    finally:
        await producer.stop()
    status = kafka_cluster.status()
    assert [f"node {n} running" in status for n in range(3)] == [True] * 3, status
