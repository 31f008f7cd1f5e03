"""A compacted Kafka topic of JSON values as a map (`CompactedTable`, connectors/kafka/table.py),
loaded, followed and written.

    table = CompactedTable(topic)               # the map; reads never wait
    await reader.load(table, partitions)        # read those partitions from the start to the end
    reader.follow(tables)                       # keep applying what others write (global tables)
    reader.track(tables)                        # the same for owned partitions of partitioned ones
    table[key] = value; table.pop(key)          # local at once; queued for the topic
    await writer.flush([table, ...])            # produce what is queued, await every ack

Values are JSON, produced with the schema version header and upgraded when read
(orgsync_kernel/schema.py); a `None` value is a tombstone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable, ensure_topics
from connectors.kafka.producer import Bulk, Producer
from connectors.kafka.table import CompactedTable, apply_compacted
from orgsync_kernel.schema import HEADERS

__all__ = [
    "CompactedReader",
    "CompactedTable",
    "CompactedWriter",
    "KafkaKV",
    "apply_compacted",
    "messages_to_end",
]
log = logging.getLogger(__name__)


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
        taken = [(table, sent) for table in tables if (sent := table.take_queued())]
        bulk = _bulk(self.producer, taken)
        settled: set[int] = set()  # id() of the tables (a table compares as a mapping)
        try:
            acks = await bulk.send()
            for ack in acks:
                self._in_flight.add(ack)
                ack.add_done_callback(self._in_flight.discard)
            if acks:  # asyncio.wait, not gather: every ack done, failed or not
                await asyncio.wait(acks)
            _settle(bulk, taken, settled)
        finally:
            for table, sent in taken:
                if id(table) not in settled:
                    table.unacknowledged(sent)
        if self._in_flight:
            await asyncio.gather(*self._in_flight)


Taken = list[tuple[CompactedTable, list[tuple[str, Any]]]]  # what a flush took, per table


def _bulk(producer: AIOKafkaProducer, taken: Taken) -> Bulk:
    bulk = Bulk(producer)
    for table, sent in taken:
        for key, value in sent:
            if value is None:
                bulk.add(table.topic, table.partition, key.encode(), None)
            else:
                data = orjson.dumps(value)
                bulk.add(table.topic, table.partition, key.encode(), data, HEADERS)
    return bulk


def _settle(bulk: Bulk, taken: Taken, settled: set[int]) -> None:
    """Each table whose batches were all acknowledged settles what it sent (`settled`)."""
    for table, sent in taken:
        last = bulk.last_offset(table.topic, table.partition)
        if last is not None:
            table.acknowledged(sent, last)
            settled.add(id(table))


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
    ) -> int:
        """Read `partitions` of the table's topic from the message after its offset (or the
        start) to their current end; the number of messages read."""
        tps = [TopicPartition(table.topic, p) for p in partitions]
        if not tps:
            return 0
        consumer = self._consumer()
        await consumer.start()
        try:
            return await _read_to_end(consumer, tps, {table.topic: table}, own=own)
        finally:
            await consumer.stop()

    async def follow(self, tables: Sequence[CompactedTable]) -> int:
        """Load these one-partition tables, then keep applying what anyone writes to them;
        the number of messages loaded."""
        self._follower = consumer = self._consumer()
        await consumer.start()
        by_topic = {table.topic: table for table in tables}
        read = await _read_to_end(consumer, [TopicPartition(t, 0) for t in by_topic], by_topic)
        by_tp = {TopicPartition(t.topic, t.partition): t for t in tables}
        self._task = asyncio.create_task(self._tail(consumer, by_tp), name="orgsync-follow-state")
        return read

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
) -> int:
    """Apply each partition's messages from the one after its table's offset to its end; the
    number of messages applied."""
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    for tp in tps:
        table = tables[tp.topic]
        if table.offset is not None and table.offset < ends[tp]:
            consumer.seek(tp, table.offset + 1)  # resumed at the store's checkpoint
            continue
        if table.offset is not None:  # the topic is shorter than the store: not the same topic
            table.clear_base()
        await consumer.seek_to_beginning(tp)
    # a table of one partition knows its offset (the worker's); a KV over many does not
    single = {t for t in tables if sum(tp.topic == t for tp in tps) == 1}
    applied = 0
    async for message in messages_to_end(consumer, tps):
        tables[message.topic].apply(
            message.key,
            message.value,
            own=own,
            headers=message.headers,
            offset=message.offset if message.topic in single else None,
        )
        applied += 1
    return applied


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
