"""The worker's state in three compacted topics (their values: sync/record_state.py).

    fingerprints  <prefix>.fingerprints  partitioned like `hints`: a worker loads the partitions
                                         it is assigned before it processes them, drops them
                                         when they are revoked, and is their only writer
    links         <prefix>.links         one partition, loaded and followed by every worker
    states        <prefix>.states        one partition, loaded and followed by every worker

Writes land in memory at once and are produced together by `flush()`, which returns once the
broker acknowledged every one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from aiokafka import AIOKafkaProducer

from connectors.kafka import partition_of
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compacted import CompactedReader, CompactedTable, CompactedWriter
from connectors.kafka.disk import StateDir
from orgsync_kernel.topics import Topics


class Fingerprints(MutableMapping[str, Any]):
    """The fingerprints of the partitions this worker owns, one table per partition."""

    def __init__(self, topic: str, partitions: int) -> None:
        self.topic = topic
        self.partitions = partitions
        self.owned: dict[int, CompactedTable] = {}
        self.revoked: dict[int, CompactedTable] = {}  # until the assignment that follows

    def table(self, key: str) -> CompactedTable:
        partition = partition_of(key, self.partitions)
        try:
            return self.owned[partition]
        except KeyError:
            raise LookupError(f"partition {partition} of {key} is not owned here") from None

    def __getitem__(self, key: str) -> Any:
        return self.table(key)[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.table(key)[key] = value

    def __delitem__(self, key: str) -> None:
        del self.table(key)[key]

    def __iter__(self) -> Iterator[str]:
        return (key for table in self.owned.values() for key in table)

    def __len__(self) -> int:
        return sum(len(table) for table in self.owned.values())

    def get(self, key: str, default: Any = None) -> Any:
        return self.table(key).get(key, default)

    def pop(self, key: str, default: Any = None) -> Any:
        return self.table(key).pop(key, default)


class PipelineState:
    """fingerprints, links and states of one worker, on their compacted topics; with `disk`,
    kept on local disk (connectors/kafka/disk.py) instead of in memory."""

    def __init__(
        self,
        cluster: KafkaCluster,
        topics: Topics,
        partitions: int,
        disk: StateDir | None = None,
    ) -> None:
        self.cluster = cluster
        self.topics = topics
        self.disk = disk
        self.fingerprints = Fingerprints(topics.fingerprints, partitions)
        self.links = self._table(topics.links, "links")
        self.states = self._table(topics.states, "states")
        self.reader = CompactedReader(cluster)
        self.writer: CompactedWriter | None = None

    async def create_topics(self) -> None:
        await ensure_topics(
            self.cluster, [self.topics.fingerprints], self.fingerprints.partitions, compacted=True
        )
        await ensure_topics(
            self.cluster, [self.topics.links, self.topics.states], 1, compacted=True
        )

    async def start(self, producer: AIOKafkaProducer) -> None:
        self.writer = CompactedWriter(producer)
        await self.reader.follow([self.links, self.states])

    def _table(
        self, topic: str, name: str, partition: int = 0, followed: bool = True
    ) -> CompactedTable:
        if self.disk is None:
            return CompactedTable(topic, partition=partition, followed=followed)
        base, offset = self.disk.open(name), self.disk.offset(name)
        return CompactedTable(
            topic, partition=partition, followed=followed, base=base, offset=offset
        )

    async def stop(self) -> None:
        """Stop following; on disk, a checkpoint when everything was produced (a clean stop)."""
        await self.reader.stop()
        if self.disk is not None:
            clean = not any(table.queued for table in self.tables())
            self.disk.close(self._offsets() if clean else None)

    def _offsets(self) -> dict[str, int | None]:
        prints = self.fingerprints
        held = {**prints.revoked, **prints.owned}
        offsets = {_print_name(p): table.offset for p, table in held.items()}
        return offsets | {"links": self.links.offset, "states": self.states.offset}

    def keep(self, assigned: Iterable[int]) -> set[int]:
        """After a rebalance: the partitions assigned again keep their fingerprints (nobody
        else owned them in between), the others revoked are dropped; returns the partitions
        that must be loaded (`load`)."""
        prints = self.fingerprints
        wanted = set(assigned)
        for partition in wanted & set(prints.revoked):
            prints.owned[partition] = prints.revoked.pop(partition)
        self.drop(list(prints.revoked))
        return wanted - set(prints.owned)

    async def load(self, partitions: Iterable[int]) -> None:
        """Load the fingerprints of newly assigned partitions (before processing them)."""
        for partition in sorted(set(partitions) - set(self.fingerprints.owned)):
            topic = self.topics.fingerprints
            table = self._table(topic, _print_name(partition), partition, followed=False)
            await self.reader.load(table, [partition], own=True)
            self.fingerprints.owned[partition] = table

    async def own(self, partitions: Iterable[int]) -> None:
        await self.load(self.keep(partitions))

    def disown(self, partitions: Iterable[int]) -> None:
        """Revoked: not processed any more, kept until the next assignment says."""
        prints = self.fingerprints
        for partition in partitions:
            if partition in prints.owned:
                prints.revoked[partition] = prints.owned.pop(partition)

    def drop(self, partitions: Iterable[int]) -> None:
        """Partitions revoked while they were loading: nothing of them is kept."""
        for partition in partitions:
            self.fingerprints.owned.pop(partition, None)
            self.fingerprints.revoked.pop(partition, None)
            if self.disk is not None:
                self.disk.discard(_print_name(partition))

    def tables(self) -> list[CompactedTable]:
        return [*self.fingerprints.owned.values(), self.links, self.states]

    async def flush(self) -> None:
        """Produce every queued change of the state; returns once all are acknowledged."""
        if self.writer is None:
            raise RuntimeError("the pipeline state is not started")
        await self.writer.flush(self.tables())

    def forget_unsent(self) -> None:
        for table in self.tables():
            table.forget_unsent()


def _print_name(partition: int) -> str:
    return f"fingerprints-{partition}"
