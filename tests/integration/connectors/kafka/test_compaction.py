"""An existing compacted topic with other settings is brought to orgsync's at start
(connectors/kafka/compaction.py), keeping the settings orgsync does not set."""

from __future__ import annotations

import logging

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compaction import COMPACTION, describe

OLD = {
    "cleanup.policy": "compact",
    "segment.ms": "604800000",
    "min.cleanable.dirty.ratio": "0.5",
    "retention.ms": "86400000",  # not orgsync's: kept
}


async def settings_of(broker: str, topic: str) -> dict[str, str | None]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        return (await describe(admin, [topic]))[topic].effective
    finally:
        await admin.close()


async def test_an_existing_compacted_topic_gets_the_compaction_settings_at_start(
    kafka_broker: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(unique_name, 1, 1, topic_configs=OLD)])
    finally:
        await admin.close()
    cluster = KafkaCluster(kafka_broker)

    with caplog.at_level(logging.INFO, logger="connectors.kafka.compaction"):
        await ensure_topics(cluster, [unique_name], 1, compacted=True)
    found = await settings_of(kafka_broker, unique_name)
    assert {name: found[name] for name in COMPACTION} == COMPACTION
    assert found["retention.ms"] == "86400000"
    changed = [r.getMessage() for r in caplog.records if "changed" in r.getMessage()]
    assert len(changed) == 1 and unique_name in changed[0], changed
    assert "segment.ms=3600000" in changed[0] and "was " in changed[0]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="connectors.kafka.compaction"):
        await ensure_topics(cluster, [unique_name], 1, compacted=True)  # nothing differs
    assert not caplog.records
