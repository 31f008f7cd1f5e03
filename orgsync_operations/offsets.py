"""The pipeline's consumer group seen from outside: its topics, offsets and lag.

Used by the lag gauges (orgsync_operations/monitoring.py) and by `orgsync replay` (offsets for
times).
`GroupOffsets` is an explicit lifecycle (`async with`) around one admin client and one
group-less consumer; nothing here joins the group, so measuring never triggers a rebalance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from connectors.kafka import TopicPartition
from connectors.kafka.cluster import KafkaCluster
from orgsync_kernel.settings import Settings
from orgsync_operations.dlq import partitions_of

Offsets = dict[TopicPartition, int]
KAFKA_WAIT_SECONDS = 5.0  # the status page's figures wait no longer for Kafka


def lag_by_topic(
    ends: Mapping[TopicPartition, int],
    starts: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int],
) -> dict[str, int]:
    """Messages not yet consumed, per topic: end − committed offset (− start when none)."""
    lag: dict[str, int] = {}
    for tp, end in ends.items():
        position = committed.get(tp, -1)
        position = position if position >= 0 else starts.get(tp, 0)
        lag[tp.topic] = lag.get(tp.topic, 0) + max(end - position, 0)
    return lag


class GroupOffsets:
    def __init__(self, cluster: KafkaCluster, group: str, *, timeout: float = 10.0) -> None:
        self.cluster = cluster
        self.group = group
        self.timeout = timeout
        self._admin = cluster.admin(request_timeout_ms=int(timeout * 1000))
        self._consumer = cluster.consumer(
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=int(timeout * 1000),
        )

    async def __aenter__(self) -> GroupOffsets:
        async with asyncio.timeout(self.timeout):
            await self._admin.start()
            await self._consumer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        """The partitions of those of `topics` that exist."""
        described = await self._admin.describe_topics(list(topics)) if topics else []
        return [
            TopicPartition(info["topic"], p["partition"])
            for info in described
            if info["error_code"] == 0
            for p in sorted(info["partitions"], key=lambda p: p["partition"])
        ]

    async def ends(self, tps: Sequence[TopicPartition]) -> Offsets:
        return dict(await self._consumer.end_offsets(list(tps))) if tps else {}

    async def starts(self, tps: Sequence[TopicPartition]) -> Offsets:
        return dict(await self._consumer.beginning_offsets(list(tps))) if tps else {}

    async def committed(self) -> Offsets:
        found = await self._admin.list_consumer_group_offsets(self.group)
        return {tp: meta.offset for tp, meta in found.items()}

    async def offsets_at(self, tps: Sequence[TopicPartition], timestamp_ms: int) -> Offsets:
        """Per partition, the first offset whose timestamp is at or after `timestamp_ms`; the
        end offset where every message is older."""
        found = await self._consumer.offsets_for_times({tp: timestamp_ms for tp in tps})
        ends = await self.ends([tp for tp, at in found.items() if at is None])
        return {tp: (at.offset if at is not None else ends[tp]) for tp, at in found.items()}

    async def lag(self, topics: Sequence[str]) -> dict[str, int]:
        tps = await self.partitions(topics)
        ends, starts, committed = await asyncio.gather(
            self.ends(tps), self.starts(tps), self.committed()
        )
        return lag_by_topic(ends, starts, committed)


@dataclass(frozen=True)
class TopicStat:
    lag: int | None  # None: the pipeline's group has no offsets for it yet
    newest: float | None  # timestamp of the newest message, epoch seconds
    end: int = 0  # messages ever written (the sum of the end offsets): survives any restart
    committed: int | None = None  # of them, consumed by the group (its committed offsets)


async def topic_stats(
    settings: Settings, also: Sequence[str] = (), *, newest: bool = True
) -> dict[str, TopicStat]:
    """Per pipeline topic (and per topic of `also`, which no group of ours consumes): the
    workers' consumer group's lag and committed offsets, the end offsets, and with `newest`
    the time of the newest message."""
    consumers = settings.topics.consumers(settings.targets)
    topics = [topic for group_topics in consumers.values() for topic in group_topics]
    topics += [topic for topic in also if topic not in topics]
    cluster = KafkaCluster.of(settings.kafka)
    async with asyncio.timeout(KAFKA_WAIT_SECONDS):
        partitions = await partitions_of(cluster, topics)
        group = await _committed(cluster, consumers, partitions)
        ends, times = await _ends_and_newest(cluster, partitions, newest)
    stats: dict[str, TopicStat] = {}
    for topic in topics:
        own = [tp for tp in partitions if tp.topic == topic]
        committed = [group[tp].offset for tp in own if tp in group and group[tp].offset >= 0]
        end = sum(ends[tp] for tp in own)
        found = [times[tp] for tp in own if tp in times]
        done = sum(committed) if committed else None
        stats[topic] = TopicStat(
            end - done if done is not None else None, max(found) if found else None, end, done
        )
    return stats


async def _committed(
    cluster: KafkaCluster, consumers: Mapping[str, Sequence[str]], partitions: list[Any]
) -> dict[Any, Any]:
    admin = cluster.admin()
    await admin.start()
    group: dict[Any, Any] = {}
    try:
        for name, group_topics in consumers.items():
            group |= await admin.list_consumer_group_offsets(
                name, partitions=[tp for tp in partitions if tp.topic in group_topics]
            )
    finally:
        await admin.close()
    return group


async def _ends_and_newest(
    cluster: KafkaCluster, partitions: list[Any], newest: bool
) -> tuple[dict[Any, int], dict[Any, float]]:
    consumer = cluster.consumer(enable_auto_commit=False, group_id=None, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions) if partitions else {}
        filled = [tp for tp in partitions if ends[tp] > 0] if newest else []
        consumer.assign(filled)
        for tp in filled:
            consumer.seek(tp, ends[tp] - 1)
        times: dict[Any, float] = {}
        for tp in filled:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
            for message in batch.get(tp, []):
                times[tp] = message.timestamp / 1000
        return ends, times
    finally:
        await consumer.stop()
