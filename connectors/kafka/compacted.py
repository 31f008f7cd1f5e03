"""A compacted Kafka topic of JSON values as an in-memory map, loaded, followed and written.

    table = CompactedTable(topic)               # the map; reads never wait
    await reader.load(table, partitions)        # read those partitions from the start to the end
    reader.follow(tables)                       # keep applying what others write (global tables)
    reader.track(tables)                        # the same for owned partitions of partitioned ones
    table[key] = value; table.pop(key)          # local at once; queued for the topic
    await writer.flush([table, ...])            # produce what is queued, await every ack

A write is visible to this process at once. Until the reader has seen it come back from the
topic, it stays in the table's overlay, so an older value read back meanwhile (written earlier,
by this process or another) never hides it. Values are JSON, produced with the schema version
header and upgraded when read (orgsync_kernel/schema.py); a `None` value is a tombstone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, MutableMapping, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable, ensure_topics
from connectors.kafka.disk import DiskMap
from connectors.kafka.producer import Bulk, Headers, Producer
from orgsync_kernel.schema import CURRENT, HEADERS, SchemaTooNew, header_version, load_compacted

log = logging.getLogger(__name__)
_MISSING = object()  # in the overlay: a deletion not read back yet


class CompactedTable(MutableMapping[str, Any]):
    """Key -> JSON value: what the topic holds (`base`) under this process's own writes that
    have not come back from the topic yet (`overlay`). A table that is not `followed` has
    this process as its only writer: its writes go straight to `base`."""

    def __init__(
        self,
        topic: str,
        *,
        partition: int = 0,
        followed: bool = True,
        base: MutableMapping[str, Any] | None = None,
        offset: int | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition  # the one partition of the topic this table holds
        self.followed = followed
        # what the topic holds, in memory or on disk (connectors/kafka/disk.py), as of `offset`
        self.base: MutableMapping[str, Any] = {} if base is None else base
        self.offset = offset  # the last message of the topic applied to `base` (None: none)
        self.overlay: dict[str, Any] = {}  # a value, or _MISSING for a deletion
        self.queued: list[tuple[str, Any]] = []  # (key, value or None) not yet produced
        self._echoes: dict[str, int] = {}  # key -> own writes produced, not yet read back

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """No KeyError raised and caught per absent key (most keys, on a first sync)."""
        value = self.overlay[key] if key in self.overlay else self.base.get(key, _MISSING)
        return default if value is _MISSING else value

    def __setitem__(self, key: str, value: Any) -> None:
        (self.overlay if self.followed else self.base)[key] = value
        self.queued.append((key, value))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        if self.followed:
            self.overlay[key] = _MISSING
        else:
            del self.base[key]
        self.queued.append((key, None))

    def pop(self, key: str, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        del self[key]
        return value

    def __iter__(self) -> Iterator[str]:
        keys = {*self.base, *self.overlay}
        return iter([k for k in keys if self.overlay.get(k, self.base.get(k)) is not _MISSING])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def take_queued(self) -> list[tuple[str, Any]]:
        queued, self.queued = self.queued, []
        if self.followed:
            for key, _ in queued:
                self._echoes[key] = self._echoes.get(key, 0) + 1
        return queued

    def apply(
        self,
        key: bytes | None,
        value: bytes | None,
        *,
        own: bool = False,
        headers: Headers | None = None,
        offset: int | None = None,
    ) -> None:
        """One message read from the topic. `own`: this process wrote it (read while loading
        its own partitions: no overlay to settle)."""
        if (
            isinstance(self.base, DiskMap)
            and value is not None
            and key is not None
            and (
                header_version(headers) == CURRENT  # ours, as stored: no decode and encode again
            )
        ):
            name: str | None = key.decode("utf-8", "replace")
            self.base.put_raw(name, value)  # type: ignore[arg-type]
        else:
            name = apply_compacted(self.base, key, value, self.topic, headers)
        if offset is not None:
            self.offset = offset
        if name is not None and not own:
            self._settle(name)

    def clear_base(self) -> None:
        self.base.clear()  # a store on disk drops the table's key range at once
        self.offset = None

    def forget_unsent(self) -> None:
        """Drop the writes not produced yet and their overlay (a round that is redone)."""
        for key, _ in self.queued:
            if not self._echoes.get(key):
                self.overlay.pop(key, None)
        self.queued = []

    def _settle(self, name: str) -> None:
        pending = self._echoes.get(name)
        if not pending:
            return
        if pending == 1:
            del self._echoes[name]
            if not any(key == name for key, _ in self.queued):
                self.overlay.pop(name, None)
        else:
            self._echoes[name] = pending - 1


class KafkaKV:
    """A compacted topic that this process alone writes (cursors, channels) as a
    `CompactedTable`: ``start`` reads it to its end, each write is awaited. Writes by other
    processes after the start are not followed."""

    def __init__(
        self, cluster: KafkaCluster, topic: str, producer: Producer, *, timeout: float = 15.0
    ) -> None:
        self.cluster = cluster
        self.topic = topic
        self._producer = producer
        self._timeout = timeout
        self.table = CompactedTable(topic, followed=False)

    async def start(self) -> None:
        await ensure_topics(self.cluster, [self.topic], 1, compacted=True)
        reader = CompactedReader(self.cluster)
        try:
            async with asyncio.timeout(self._timeout):
                await reader.load(self.table, await reader.partitions(self.topic), own=True)
        except (KafkaError, TimeoutError, OSError) as error:
            raise KafkaUnavailable(f"cannot read {self.topic}: {type(error).__name__}") from None
        log.info("kv loaded topic=%s keys=%d", self.topic, len(self.table))

    async def stop(self) -> None:
        """Nothing to release: writes are acknowledged when ``put`` returns."""

    def get(self, key: str) -> Any | None:
        return self.table.get(key)

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        return [(k, v) for k, v in self.table.items() if k.startswith(prefix)]

    async def put(self, key: str, value: Any) -> None:
        message = (key.encode(), orjson.dumps(value))
        await self._producer.send_many(self.topic, [message], headers=HEADERS)
        self.table.base[key] = value

    async def delete(self, key: str) -> None:
        await self._producer.send_many(self.topic, [(key.encode(), None)])
        self.table.base.pop(key, None)


class CompactedWriter:
    """Produces what the tables queued, in one burst, and awaits the broker's acks: those of
    this flush and of any other flush still in flight (a concurrent flush may have taken what
    this caller queued)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._in_flight: set[asyncio.Future[Any]] = set()

    async def flush(self, tables: Sequence[CompactedTable]) -> None:
        bulk = Bulk(self.producer)
        for table in tables:
            for key, value in table.take_queued():
                if value is None:
                    bulk.add(table.topic, table.partition, key.encode(), None)
                else:
                    data = orjson.dumps(value)
                    bulk.add(table.topic, table.partition, key.encode(), data, HEADERS)
        for ack in await bulk.send():
            self._in_flight.add(ack)
            ack.add_done_callback(self._in_flight.discard)
        if self._in_flight:
            await asyncio.gather(*self._in_flight)


class CompactedReader:
    """Reads compacted topics with group-less consumers (it never joins a group)."""

    def __init__(self, cluster: KafkaCluster) -> None:
        self.cluster = cluster
        self._follower: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._tracker: AIOKafkaConsumer | None = None  # owned partitions others write to
        self._tracking: asyncio.Task[None] | None = None

    def _consumer(self) -> AIOKafkaConsumer:
        return self.cluster.consumer(
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
            auto_offset_reset="earliest",  # a resumed offset already cleaned up: from the start
        )

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partitions; [0] when it has none yet. (A consumer's own metadata knows
        a topic's partitions only once it was assigned or subscribed to it.)"""
        admin = self.cluster.admin()
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        found = [p["partition"] for p in described["partitions"]]
        return sorted(found) if described["error_code"] == 0 and found else [0]

    async def load(
        self, table: CompactedTable, partitions: Sequence[int], *, own: bool = False
    ) -> None:
        """Read `partitions` of the table's topic from the start to their current end."""
        tps = [TopicPartition(table.topic, p) for p in partitions]
        if not tps:
            return
        consumer = self._consumer()
        await consumer.start()
        try:
            await _read_to_end(consumer, tps, {table.topic: table}, own=own)
        finally:
            await consumer.stop()

    async def follow(self, tables: Sequence[CompactedTable]) -> None:
        """Load these one-partition tables, then keep applying what anyone writes to them."""
        self._follower = consumer = self._consumer()
        await consumer.start()
        by_topic = {table.topic: table for table in tables}
        await _read_to_end(consumer, [TopicPartition(t, 0) for t in by_topic], by_topic)
        by_tp = {TopicPartition(t.topic, t.partition): t for t in tables}
        self._task = asyncio.create_task(self._tail(consumer, by_tp), name="orgsync-follow-state")

    async def track(self, tables: Sequence[CompactedTable]) -> None:
        """Keep applying what others write to these loaded tables (partitions of partitioned
        topics), each from the message after its offset; replaces what was tracked before."""
        await _cancel(self._tracking)
        self._tracking = None
        if self._tracker is None:
            self._tracker = self._consumer()
            await self._tracker.start()
        by_tp = {TopicPartition(t.topic, t.partition): t for t in tables}
        self._tracker.assign(list(by_tp))
        for tp, table in by_tp.items():
            if table.offset is None:
                await self._tracker.seek_to_beginning(tp)
            else:
                self._tracker.seek(tp, table.offset + 1)
        if by_tp:
            self._tracking = asyncio.create_task(
                self._tail(self._tracker, by_tp), name="orgsync-track-state"
            )

    async def stop(self) -> None:
        await _cancel(self._task)
        await _cancel(self._tracking)
        self._task = self._tracking = None
        for consumer in (self._follower, self._tracker):
            if consumer is not None:
                await consumer.stop()
        self._follower = self._tracker = None

    @staticmethod
    async def _tail(
        consumer: AIOKafkaConsumer, tables: dict[TopicPartition, CompactedTable]
    ) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            except KafkaError as error:  # the consumer reconnects; keep following
                names = sorted({tp.topic for tp in tables})
                log.warning("following %s: %s", ", ".join(names), type(error).__name__)
                await asyncio.sleep(1.0)
                continue
            for tp, messages in batches.items():
                table = tables[tp]
                for message in messages:
                    table.apply(
                        message.key, message.value, headers=message.headers, offset=message.offset
                    )


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _read_to_end(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    tables: dict[str, CompactedTable],
    *,
    own: bool = False,
) -> None:
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    for tp in tps:
        table = tables[tp.topic]
        if table.offset is not None and table.offset < ends[tp]:
            consumer.seek(tp, table.offset + 1)  # resumed where a clean stop left it
            continue
        if table.offset is not None:  # the topic is shorter than the store: not the same topic
            table.clear_base()
        await consumer.seek_to_beginning(tp)
    # a table of one partition knows its offset (the worker's); a KV over many does not
    single = {t for t in tables if sum(tp.topic == t for tp in tps) == 1}
    async for message in messages_to_end(consumer, tps):
        tables[message.topic].apply(
            message.key,
            message.value,
            own=own,
            headers=message.headers,
            offset=message.offset if message.topic in single else None,
        )


async def messages_to_end(
    consumer: AIOKafkaConsumer, tps: Sequence[TopicPartition]
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """The messages of the assigned partitions `tps`, from each one's position (seek first) to
    its end as of now, one partition after the other."""
    ends = await consumer.end_offsets(list(tps))
    for tp in tps:
        while await consumer.position(tp) < ends[tp]:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for message in batch.get(tp, []):
                yield message


def apply_compacted(
    view: MutableMapping[str, Any],
    key: bytes | None,
    value: bytes | None,
    topic: str,
    headers: Headers | None = None,
) -> str | None:
    """One message of a compacted topic of JSON values, applied to its in-memory view;
    returns its key. A tombstone deletes the key; a value that is not JSON, or of a schema
    version newer than this release reads (orgsync_kernel/schema.py), is skipped with a
    warning: the key keeps what this process knew."""
    if key is None:
        return None
    name = key.decode("utf-8", "replace")
    if value is None:
        view.pop(name, None)
        return name
    try:
        view[name] = load_compacted(topic, value, headers)
    except SchemaTooNew as error:
        log.error("skipped a value topic=%s key=%s: %s", topic, name, error)
    except ValueError:
        log.warning("skipped a value that is not JSON topic=%s key=%s", topic, name)
    return name
