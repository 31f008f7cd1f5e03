"""CompactedReader and CompactedWriter on a real broker: every partition of a partitioned
compacted topic; the offset of a table this process alone writes."""

from __future__ import annotations

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compacted import CompactedReader, CompactedTable, CompactedWriter


async def test_the_partitions_of_a_topic_are_all_found_and_a_missing_topic_has_one(
    kafka_broker: str, unique_name: str
) -> None:
    cluster = KafkaCluster(kafka_broker)
    await ensure_topics(cluster, [f"{unique_name}.four"], 4, compacted=True)
    reader = CompactedReader(cluster)
    assert await reader.partitions(f"{unique_name}.four") == [0, 1, 2, 3]
    assert await reader.partitions(f"{unique_name}.missing") == [0]


async def test_a_table_this_process_alone_writes_resumes_after_its_own_acknowledged_writes(
    kafka_broker: str, unique_name: str
) -> None:
    """Its offset counts its own writes once acknowledged (several batches per partition):
    a start on the store it left reads nothing again, and one on a store that missed the
    last writes (a crash) reads exactly those."""
    cluster = KafkaCluster(kafka_broker)
    topic = f"{unique_name}.fingerprints"
    await ensure_topics(cluster, [topic], 2, compacted=True)
    producer = cluster.producer()
    await producer.start()
    try:
        table = CompactedTable(topic, partition=1, followed=False)
        for n in range(2000):
            table[f"k{n}"] = {"n": n, "padding": "x" * 50}
        await CompactedWriter(producer).flush([table])
        assert table.offset == 1999 and len(table.base) == 2000
        table["k0"] = {"n": -1}
        await CompactedWriter(producer).flush([table])
        assert table.offset == 2000
    finally:
        await producer.stop()
    reader = CompactedReader(cluster)
    resumed = CompactedTable(topic, partition=1, followed=False, base=dict(table.base), offset=2000)
    assert await reader.load(resumed, [1], own=True) == 0
    behind = CompactedTable(topic, partition=1, followed=False, base={}, offset=1989)
    assert await reader.load(behind, [1], own=True) == 11
    assert behind.base["k0"] == {"n": -1} and behind.offset == 2000
