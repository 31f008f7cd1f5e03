"""The pipeline's consumer group seen from outside: its topics, offsets and lag.

Used by the lag gauges (orgsync_operations/monitoring.py) and by `orgsync replay` (offsets for
times).
`GroupOffsets` is an explicit lifecycle (`async with`) around one admin client and one
group-less consumer; nothing here joins the group, so measuring never triggers a rebalance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Offsets = dict[TopicPartition, int]


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
    def __init__(self, bootstrap: str, group: str, *, timeout: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.timeout = timeout
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000)
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
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
