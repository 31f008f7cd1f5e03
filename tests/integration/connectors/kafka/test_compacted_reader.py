"""CompactedReader on a real broker: every partition of a partitioned compacted topic."""

from __future__ import annotations

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compacted import CompactedReader


async def test_the_partitions_of_a_topic_are_all_found_and_a_missing_topic_has_one(
    kafka_broker: str, unique_name: str
) -> None:
    cluster = KafkaCluster(kafka_broker)
    await ensure_topics(cluster, [f"{unique_name}.four"], 4, compacted=True)
    reader = CompactedReader(cluster)
    assert await reader.partitions(f"{unique_name}.four") == [0, 1, 2, 3]
    assert await reader.partitions(f"{unique_name}.missing") == [0]
