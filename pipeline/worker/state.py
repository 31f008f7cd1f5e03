"""The worker's state in four compacted topics (their values: sync/record_state.py).

    fingerprints  <prefix>.fingerprints  partitioned like `hints`: a worker loads the partitions
                                         it is assigned before it processes them, drops them
                                         when they are revoked, and is their only writer
    record-links  <prefix>.record-links  partitioned like `hints` (pipeline/worker/tables.py):
                                         loaded like the fingerprints, and tracked, since the
                                         cold paths of other workers write to them too
    record-states <prefix>.record-states partitioned like `hints`, loaded like the
                                         fingerprints; its only writer is the worker of the
                                         partition (others send it what they wrote: `decide`)
    links         <prefix>.links         one partition, loaded and followed by every worker

`<prefix>.states`, where releases before record-states kept every record state, is read once
at the first start and moved to record-states.

Writes land in memory at once and are produced together by `flush()`, which returns once the
broker acknowledged every one of them. On disk (connectors/kafka/disk.py) the store holds only
what the topics hold, so a checkpoint of the tables' offsets is written every
`CHECKPOINT_SECONDS` (and at a stop, clean or not): a start after a crash resumes each table
at the last checkpoint the store kept, as one after a clean stop does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable

from aiokafka import AIOKafkaProducer

from connectors.kafka import Bulk, partition_of
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compacted import CompactedReader, CompactedTable, CompactedWriter
from connectors.kafka.disk import StateDir
from orgsync_kernel.events import link_record
from orgsync_kernel.topics import Topics
from pipeline.worker.tables import Links, Partitioned, RecordStates

log = logging.getLogger(__name__)
# In the shared links table: the orgs whose links were last moved to record-links, and
# whether the record states of an earlier release were moved to record-states.
MOVED = "\x00record-links"
MOVED_STATES = "\x00record-states"
CHECKPOINT_SECONDS = 5.0


class PipelineState:
    """fingerprints, links and states of one worker, on their compacted topics; with `disk`,
    kept on local disk (connectors/kafka/disk.py) instead of in memory. `local_orgs`: the orgs
    whose records' plain links are partitioned (all of them since two-way writes are decided
    where their target's state is)."""

    def __init__(
        self,
        cluster: KafkaCluster,
        topics: Topics,
        partitions: int,
        disk: StateDir | None = None,
        local_orgs: Collection[str] = (),
        orgs: Collection[str] = (),
    ) -> None:
        self.cluster = cluster
        self.topics = topics
        self.disk = disk
        self.fingerprints = Partitioned(topics.fingerprints, partitions)
        self.record_links = Partitioned(topics.record_links, partitions, place=link_record)
        shared = self._table(topics.links, "links")
        self.links = Links(shared, self.record_links, local_orgs, orgs)
        self.states = RecordStates(topics.record_states, partitions)
        self.reader = CompactedReader(cluster)
        self.writer: CompactedWriter | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._loading: dict[str, CompactedTable] = {}  # checkpointed while they load

    def _maps(self) -> dict[str, Partitioned]:
        return {
            "fingerprints": self.fingerprints,
            "record-links": self.record_links,
            "record-states": self.states,
        }

    async def create_topics(self) -> None:
        partitioned = self.topics.record_tables()
        await ensure_topics(self.cluster, partitioned, self.fingerprints.partitions, compacted=True)
        await ensure_topics(
            self.cluster, [self.topics.links, self.topics.states], 1, compacted=True
        )

    async def start(self, producer: AIOKafkaProducer) -> None:
        self.writer = CompactedWriter(producer)
        if self.disk is not None:
            self._checkpoints = asyncio.create_task(
                self._checkpoint_every(self.disk), name="orgsync-state-checkpoints"
            )
        resumed = self.links.shared.offset
        read = await self.reader.follow([self.links.shared])
        log.info("state loaded topics=links messages=%d after=%s", read, resumed)
        await self._move_links()
        await self._move_states()

    async def _move_links(self) -> None:
        """A release before this one kept every link in the shared table: those that belong
        in record-links move there (once per set of local orgs); until then both are read."""
        shared, local = self.links.shared, sorted(self.links.local_orgs)
        if shared.get(MOVED) == local:
            return
        keys = [key for key in shared if self.links.is_local(key)]
        for first in range(0, len(keys), 10_000):
            self.links.relocate(keys[first : first + 10_000])
            await self.flush()
        shared[MOVED] = local
        await self.flush()
        if keys:
            log.info("moved %d links to %s", len(keys), self.topics.record_links)

    async def _move_states(self) -> None:
        """A release before this one kept every record state in one partition: moved to
        record-states once (its owners load them when their partitions are assigned)."""
        shared = self.links.shared
        if shared.get(MOVED_STATES):
            return
        old = CompactedTable(self.topics.states, followed=False)
        await self.reader.load(old, [0])
        for key, value in old.items():
            self.states.writable(key)[key] = value
        await self.flush()
        shared[MOVED_STATES] = True
        await self.flush()
        if len(old):
            log.info("moved %d record states to %s", len(old), self.topics.record_states)

    def _table(
        self, topic: str, name: str, partition: int = 0, followed: bool = True
    ) -> CompactedTable:
        if self.disk is None:
            return CompactedTable(topic, partition=partition, followed=followed)
        base, offset = self.disk.open(name), self.disk.offset(name)
        return CompactedTable(
            topic, partition=partition, followed=followed, base=base, offset=offset
        )

    async def _checkpoint_every(self, disk: StateDir) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            disk.checkpoint(self._offsets())

    async def stop(self) -> None:
        """Stop following; on disk, a last checkpoint (what was not produced or acknowledged
        is not in the store: the next start resumes there, clean stop or not)."""
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
        await self.reader.stop()
        if self.disk is not None:
            self.disk.close(self._offsets())

    def _offsets(self) -> dict[str, int | None]:
        offsets: dict[str, int | None] = {n: t.offset for n, t in self._loading.items()}
        for name, tables in self._maps().items():
            held = {**tables.revoked, **tables.owned}
            offsets |= {_name(name, p): table.offset for p, table in held.items()}
        return offsets | {"links": self.links.shared.offset}

    def keep(self, assigned: Iterable[int]) -> set[int]:
        """After a rebalance: the partitions assigned again keep their tables (nobody else
        owned them in between), the others revoked are dropped; returns the partitions that
        must be loaded (`load`)."""
        wanted = set(assigned)
        for tables in self._maps().values():
            for partition in wanted & set(tables.revoked):
                tables.owned[partition] = tables.revoked.pop(partition)
        self.drop({p for tables in self._maps().values() for p in tables.revoked})
        return wanted - set(self.fingerprints.owned)

    async def load(self, partitions: Iterable[int]) -> None:
        """Load the tables of newly assigned partitions (before processing them)."""
        for partition in sorted(set(partitions) - set(self.fingerprints.owned)):
            loaded = {name: await self._load(name, partition) for name in self._maps()}
            for name, tables in self._maps().items():  # owned (processed) once all are loaded
                tables.owned[partition] = loaded[name]
                self._loading.pop(_name(name, partition))
                tables.outboxes.pop(partition, None)
        await self._track()

    async def _load(self, name: str, partition: int) -> CompactedTable:
        """A partition's table, resumed at its checkpoint (checkpointed while it loads)."""
        tables = self._maps()[name]
        followed = tables is self.record_links
        table = self._table(tables.topic, _name(name, partition), partition, followed)
        self._loading[_name(name, partition)] = table
        after = table.offset
        read = await self.reader.load(table, [partition], own=True)
        log.info(
            "state loaded topic=%s partition=%d messages=%d after=%s",
            table.topic,
            partition,
            read,
            after,
        )
        return table

    async def _track(self) -> None:
        links = self.record_links
        await self.reader.track([*links.owned.values(), *links.revoked.values()])

    async def own(self, partitions: Iterable[int]) -> None:
        await self.load(self.keep(partitions))

    def disown(self, partitions: Iterable[int]) -> None:
        """Revoked: not processed any more, kept until the next assignment says."""
        for tables in self._maps().values():
            for partition in partitions:
                if partition in tables.owned:
                    tables.revoked[partition] = tables.owned.pop(partition)

    def drop(self, partitions: Iterable[int]) -> None:
        """Partitions revoked while they were loading, or assigned elsewhere: nothing of them
        is kept."""
        for name, tables in self._maps().items():
            for partition in partitions:
                tables.owned.pop(partition, None)
                tables.revoked.pop(partition, None)
                self._loading.pop(_name(name, partition), None)
                if self.disk is not None:
                    self.disk.discard(_name(name, partition))

    def tables(self) -> list[CompactedTable]:
        return [*self.fingerprints.owned.values(), *self.links.tables(), *self.states.tables()]

    async def flush(self) -> None:
        """Produce every queued change of the state, and the writes done for records of other
        workers' partitions (`RecordStates.sent`); returns once all are acknowledged."""
        if self.writer is None:
            raise RuntimeError("the pipeline state is not started")
        sent, self.states.sent = self.states.sent, []
        if sent:
            bulk = Bulk(self.writer.producer)
            for done in sent:
                key = done.target_key
                partition = partition_of(key, self.states.partitions)
                bulk.add(self.topics.decide, partition, key.encode(), done.dumps())
            await asyncio.gather(*await bulk.send())
        await self.writer.flush(self.tables())

    def forget_unsent(self) -> None:
        self.states.sent.clear()
        for table in self.tables():
            table.forget_unsent()


def _name(kind: str, partition: int) -> str:
    return f"{kind}-{partition}"
