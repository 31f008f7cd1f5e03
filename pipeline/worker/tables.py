"""The maps the processor and the sinks read and write, over the compacted tables of the state.

`Partitioned`: a partitioned topic as the tables of the partitions this worker owns (a key's
partition is that of its record in `hints`). `RecordStates`: the record states, one writer
each. `Links`: the id links, in two places —

    record-links  partitioned: the plain links of records; only the worker that processes a
                  record needs its link (two-way writes are decided by the worker of their
                  target record, pipeline/worker/round.py), so each worker holds its share
    links         one partition, followed by every worker: the row and related-item maps
                  (written and read by the cold paths, on any worker), and the plain links
                  another worker asked for (`publish`: a parent that children look up, a
                  record whose notes sync)

A record-links key owned elsewhere is written through an `Outbox` (produced, not kept; its
owner tracks its partitions and applies it) and read from `links`: a worker that misses one
hints the record with the source "lookup", and the owner, processing that hint, publishes
the record's links there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, MutableMapping, Sequence
from typing import Any

from connectors.kafka import partition_of
from connectors.kafka.compacted import CompactedTable
from orgsync_kernel.events import Write, link_key, record_key, split_key
from pipeline.sync.record_state import is_stale, written
from pipeline.sync.versions import load_sides

_MISSING = object()


class Outbox(CompactedTable):
    """Writes to a partition of a compacted topic that another process holds: produced with
    the next flush, not kept here (the holder applies them when it reads them)."""

    def __init__(self, topic: str, partition: int) -> None:
        super().__init__(topic, partition=partition, followed=False)

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.queued.append((key, value))

    def __delitem__(self, key: str) -> None:
        self.queued.append((key, None))

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def take_queued(self) -> list[tuple[str, Any]]:
        queued, self.queued = self.queued, []  # nothing kept of it once produced
        return queued

    def acknowledged(self, sent: Sequence[tuple[str, Any]], last: int) -> None:
        """Not stored here: its holder reads it from the topic."""

    def unacknowledged(self, sent: Sequence[tuple[str, Any]]) -> None:
        """The flush failed: the writer's round is redone, and writes it again."""


class Partitioned(MutableMapping[str, Any]):
    """The tables of the partitions this worker owns, one per partition; `place(key)` is the
    record key whose partition holds `key`."""

    def __init__(
        self, topic: str, partitions: int, place: Callable[[str], str] = lambda key: key
    ) -> None:
        self.topic = topic
        self.partitions = partitions
        self.place = place
        self.owned: dict[int, CompactedTable] = {}
        self.revoked: dict[int, CompactedTable] = {}  # until the assignment that follows
        self.outboxes: dict[int, Outbox] = {}  # writes to partitions owned elsewhere

    def partition(self, key: str) -> int:
        return partition_of(self.place(key), self.partitions)

    def held(self, key: str) -> CompactedTable | None:
        """The owned table of `key`'s partition; None when another worker owns it."""
        return self.owned.get(self.partition(key))

    def writable(self, key: str) -> CompactedTable:
        """Where a write of `key` goes: its owned table, or the outbox of its partition."""
        partition = self.partition(key)
        table = self.owned.get(partition)
        if table is not None:
            return table
        if partition not in self.outboxes:
            self.outboxes[partition] = Outbox(self.topic, partition)
        return self.outboxes[partition]

    def tables(self) -> list[CompactedTable]:
        """Every table it writes to (what a flush produces)."""
        return [*self.owned.values(), *self.revoked.values(), *self.outboxes.values()]

    def table(self, key: str) -> CompactedTable:
        partition = self.partition(key)
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


class RecordStates(Partitioned):
    """The record states of two-way records, partitioned like `hints`: each has one writer,
    the worker of its record's partition, which observes the record and decides every write
    into it (pipeline/worker/round.py). A write made elsewhere (a record created by a change
    of another partition, a target's queue worked off by another worker) is sent to that
    worker on `decide` as a "written" (or "forgotten") `Write` (`sent`, produced with the next
    flush), and it records it there (`record`)."""

    def __init__(self, topic: str, partitions: int) -> None:
        super().__init__(topic, partitions)
        self.sent: list[Write] = []

    def holds(self, key: str) -> bool:
        return self.held(key) is not None

    def wrote(self, write: Write, target_id: str, modified: str | None) -> None:
        key = record_key(write.target_org, write.target_module, target_id)
        if self.holds(key):
            self._record(key, write.record, modified, write.target_org, write.versions)
        else:  # a new record (`derive` costs ~18 µs: only for what is sent)
            self.sent.append(
                write.derive(operation="written", target_id=target_id, modified_time=modified)
            )

    def forget(self, key: str) -> None:
        if self.holds(key):
            self.pop(key, None)
            return
        org, module, record_id = split_key(key)
        self.sent.append(_forgotten(org, module, record_id))

    def record(self, done: Write) -> None:
        """A write into an owned record, done here or by another worker."""
        if done.operation == "forgotten":
            self.pop(done.target_key, None)
        else:
            record, modified, org = done.record, done.modified_time, done.target_org
            self._record(done.target_key, record, modified, org, done.versions)

    def _record(
        self,
        key: str,
        record: dict[str, Any],
        modified: str | None,
        org: str,
        versions: dict[str, Any] | None,
    ) -> None:
        state = self.get(key)
        if not is_stale(state, modified):  # else observed since, after this write
            self[key] = written(state, record, modified, org, load_sides(versions))


def _forgotten(org: str, module: str, record_id: str) -> Write:
    return Write(
        route="",
        target_org=org,
        target_module=module,
        source_org=org,
        source_module=module,
        source_id=record_id,
        operation="forgotten",
        record={},
        match_field="",
        content_hash="",
        modified_time=None,
        target_id=record_id,
    )


class Links(MutableMapping[str, Any]):
    """Id links (`orgsync_kernel.events.link_key`) and the row and related-item maps."""

    def __init__(
        self,
        shared: CompactedTable,
        local: Partitioned,
        local_orgs: Collection[str] = (),
        orgs: Collection[str] = (),
    ) -> None:
        self.shared = shared
        self.local = local
        self.local_orgs = frozenset(local_orgs)  # orgs whose plain links are partitioned
        self.orgs = tuple(orgs)

    def is_local(self, key: str) -> bool:
        """A plain link of a record of a local org (not a row or related-item map)."""
        org, _, rest = key.partition("|")[2].partition("/")
        module, slash, _ = rest.partition("/")
        return org in self.local_orgs and bool(slash) and "#" not in module

    def get(self, key: str, default: Any = None) -> Any:
        if self.is_local(key):
            table = self.local.held(key)
            value = _MISSING if table is None else table.get(key, _MISSING)
            if value is not _MISSING:
                return value
        return self.shared.get(key, default)

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        if not self.is_local(key):
            self.shared[key] = value
            return
        self.local.writable(key)[key] = value
        if self.shared.get(key, value) != value:  # a published copy stays current
            self.shared[key] = value

    def __delitem__(self, key: str) -> None:
        if self.get(key, _MISSING) is _MISSING:
            raise KeyError(key)
        self.pop(key)

    def pop(self, key: str, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        if self.is_local(key):
            table = self.local.writable(key)
            if isinstance(table, Outbox) or key in table:
                del table[key]
        if key in self.shared:
            del self.shared[key]
        return value

    @property
    def outboxes(self) -> dict[int, Outbox]:
        return self.local.outboxes

    def __iter__(self) -> Iterator[str]:
        """For tests and diagnostics: what this worker holds of both."""
        return iter({*self.shared, *self.local})

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def publish(self, records: Iterable[str]) -> None:
        """Copy the plain links of these records (of owned partitions) to the shared table,
        where every worker reads them."""
        for record in records:
            for other in self.orgs:
                key = link_key(*split_key(record), other)
                table = self.local.held(key) if self.is_local(key) else None
                value = None if table is None else table.get(key)
                if value is not None and self.shared.get(key) != value:
                    self.shared[key] = value

    def relocate(self, keys: Iterable[str]) -> None:
        """Move these plain links of local records from the shared table (where a release
        before this one kept them) to their partitions."""
        for key in keys:
            value = self.shared.pop(key)
            if value is not None:
                self.local.writable(key)[key] = value

    def tables(self) -> list[CompactedTable]:
        """Every table this map writes to (what a flush produces)."""
        return [*self.local.tables(), self.shared]
