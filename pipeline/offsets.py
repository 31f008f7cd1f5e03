"""The pipeline's consumer group seen from outside: its topics, members, lag, and rewinds.

Used by the lag gauges (pipeline/monitoring.py) and by `orgsync replay`. `GroupOffsets` is an
explicit lifecycle (`async with`) around one admin client and one group-less consumer; nothing
here joins the group, so measuring never triggers a rebalance of the workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from pipeline.settings import Settings

Offsets = dict[TopicPartition, int]


def group_id(settings: Settings) -> str:
    """The Faust app id of the pipeline, which is its consumer group (pipeline/app.py)."""
    return f"{settings.kafka.topic_prefix}-pipeline"


def pipeline_topics(settings: Settings) -> list[str]:
    """The topics the workers consume (hints, changes, held, one writes topic per target)."""
    prefix = settings.kafka.topic_prefix
    targets = sorted({route.target for route in settings.sync})
    return [settings.topics.hints, settings.topics.changes, f"{prefix}.held",
            *(f"{settings.topics.writes}.{target}" for target in targets)]


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str


def lag_by_topic(ends: Mapping[TopicPartition, int], starts: Mapping[TopicPartition, int],
                 committed: Mapping[TopicPartition, int]) -> dict[str, int]:
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
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                          request_timeout_ms=int(timeout * 1000))
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                          enable_auto_commit=False,
                                          request_timeout_ms=int(timeout * 1000))

    async def __aenter__(self) -> GroupOffsets:
        async with asyncio.timeout(self.timeout):
            await self._admin.start()
            await self._consumer.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        """The partitions of those of `topics` that exist."""
        described = await self._admin.describe_topics(list(topics)) if topics else []
        return [TopicPartition(info["topic"], p["partition"]) for info in described
                if info["error_code"] == 0
                for p in sorted(info["partitions"], key=lambda p: p["partition"])]

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
        ends, starts, committed = await asyncio.gather(self.ends(tps), self.starts(tps),
                                                       self.committed())
        return lag_by_topic(ends, starts, committed)

    async def members(self) -> list[Member]:
        """The group's active members (the running workers); empty when none runs."""
        responses = await self._admin.describe_consumer_groups([self.group])
        members: list[Member] = []
        for response in responses:
            for group in response.groups:
                members += [_member(m) for m in _group_members(group)]
        return members

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Set the group's committed offsets. Kafka accepts it only while the group has no
        active member, so call `members()` first and refuse when it is not empty."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group,
                                    enable_auto_commit=False)
        async with asyncio.timeout(self.timeout):
            await consumer.start()
        try:
            consumer.assign(list(offsets))  # assign, never subscribe: no rebalance, no join
            await consumer.commit({tp: OffsetAndMetadata(offset, "orgsync replay")
                                   for tp, offset in offsets.items()})
        finally:
            await consumer.stop()


def _group_members(group: Any) -> list[Any]:
    # DescribeGroupsResponse group: (error_code, group_id, state, protocol_type, protocol,
    # members[, authorized_operations]); the members are the 6th field in every version
    return list(group[5]) if len(group) > 5 else []


def _member(raw: Any) -> Member:
    # (member_id[, group_instance_id], client_id, client_host, metadata, assignment)
    strings = [f for f in raw if isinstance(f, str)]
    return Member(strings[0], strings[-2], strings[-1])
