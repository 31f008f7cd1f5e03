"""Kafka plumbing shared by the ingress, the poller and the pipeline (clients come from
connectors/kafka/cluster.py's `KafkaCluster`).

- ``KafkaProducer``: acks=all, every send bounded in time; raises ``KafkaUnavailable``
  instead of hanging, and reconnects by itself when the broker comes back.
- ``KafkaKV``: a small key -> JSON map kept in a compacted topic: read to the end at
  start, ``put`` returns once the broker acknowledged the write.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber, UnknownProducerId
from aiokafka.partitioner import murmur2

from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable

log = logging.getLogger(__name__)
# What an idempotent producer cannot recover from by itself (see KafkaProducer._replace).
PRODUCER_STATE_LOST = (OutOfOrderSequenceNumber, UnknownProducerId)

Message = tuple[bytes, bytes | None]  # (key, value); a None value is a tombstone
Headers = Sequence[tuple[str, bytes]]


@functools.lru_cache(maxsize=1 << 16)
def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (that of its hints and changes)."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Producer(Protocol):
    """What the ingress needs from Kafka; ``send_many`` returns once every message is acked."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_many(
        self, topic: str, messages: Sequence[Message], headers: Headers | None = None
    ) -> None: ...


class KafkaProducer:
    """aiokafka with acks=all; a send that is not acknowledged within ``timeout`` fails.

    When the broker cannot be reached at start, the producer still starts: each send tries
    to connect again (at most once per ``retry_interval``) and fails fast meanwhile.
    """

    def __init__(
        self,
        cluster: KafkaCluster,
        *,
        timeout: float = 5.0,
        retry_interval: float = 1.0,
        linger_ms: int = 2,
        client_id: str = "orgsync-ingress",
    ) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self._retry_interval = retry_interval
        self._options: dict[str, Any] = {"linger_ms": linger_ms, "client_id": client_id}
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._failed_at = -math.inf

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        try:
            await self._connected()
        except KafkaUnavailable as error:
            log.warning("kafka producer not connected yet, will retry: %s", error)

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer, self.timeout)

    async def send_many(
        self, topic: str, messages: Sequence[Message], headers: Headers | None = None
    ) -> None:
        producer = await self._connected()
        acks: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self.timeout):
                for key, value in messages:
                    acks.append(await producer.send(topic, value, key, headers=headers))
                await _all_acked(acks)
        except (KafkaError, TimeoutError) as error:
            for ack in acks:  # they may still fail later; nobody will wait for them
                ack.add_done_callback(_retrieve)
            if isinstance(error, PRODUCER_STATE_LOST):
                await self._replace(producer)
            raise KafkaUnavailable(
                f"no acknowledgement from Kafka: {type(error).__name__}"
            ) from None

    async def _replace(self, producer: AIOKafkaProducer) -> None:
        """Drop an idempotent producer whose sequence numbers the cluster no longer accepts
        (a batch expired unsent, e.g. while every broker was down): aiokafka does not reset
        them, so every later send would fail. The next send starts a new producer id."""
        async with self._lock:
            if self._producer is producer:
                self._producer = None
                log.warning("kafka producer replaced: its sequence numbers were refused")
        await _stop_quietly(producer, self.timeout)

    async def _connected(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                self._producer = await self._connect()
            return self._producer

    async def _connect(self) -> AIOKafkaProducer:
        if time.monotonic() - self._failed_at < self._retry_interval:
            raise KafkaUnavailable("Kafka is unreachable (retrying shortly)")
        producer = self.cluster.producer(
            request_timeout_ms=int(self.timeout * 1000), **self._options
        )
        try:
            async with asyncio.timeout(self.timeout):
                await producer.start()
        except (KafkaError, TimeoutError, OSError) as error:
            self._failed_at = time.monotonic()
            await _stop_quietly(producer, self.timeout)
            raise KafkaUnavailable(f"cannot connect to Kafka: {type(error).__name__}") from None
        log.info("kafka producer connected bootstrap=%s", self.cluster.servers)
        return producer


async def _all_acked(acks: Sequence[asyncio.Future[Any]]) -> None:
    # asyncio.wait, not gather: a timeout must not cancel aiokafka's own delivery futures
    if acks:
        await asyncio.wait(acks)
    for ack in acks:
        ack.result()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _stop_quietly(client: AIOKafkaProducer | AIOKafkaConsumer, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await client.stop()
    except (KafkaError, TimeoutError, OSError) as error:
        log.warning("kafka client did not stop cleanly: %s", type(error).__name__)


class Bulk:
    """Messages gathered per topic and partition, then produced as one batch each (aiokafka's
    `send_batch`): no partitioner run and no future per message, which dominated the cost of
    producing a round. `send()` returns one acknowledgement per batch; `last_offset` tells
    where the last message of a partition landed."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._messages: dict[tuple[str, int], list[tuple[bytes, bytes | None, Headers]]] = {}
        # per topic and partition: each batch sent, its acknowledgement and its message count
        self._sent: dict[tuple[str, int], list[tuple[asyncio.Future[Any], int]]] = {}

    def add(
        self, topic: str, partition: int, key: bytes, value: bytes | None, headers: Headers = ()
    ) -> None:
        # a list: aiokafka's batch builder (its C version) refuses any other sequence
        self._messages.setdefault((topic, partition), []).append((key, value, list(headers)))

    async def send(self) -> list[asyncio.Future[Any]]:
        messages, self._messages = self._messages, {}
        acks: list[asyncio.Future[Any]] = []
        for (topic, partition), pending in messages.items():
            batch, count = self.producer.create_batch(), 0
            for key, value, headers in pending:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    acks.append(await self._ship(batch, topic, partition, count))
                    batch, count = self.producer.create_batch(), 0  # the one before was full
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
                count += 1
            acks.append(await self._ship(batch, topic, partition, count))
        return acks

    async def _ship(
        self, batch: Any, topic: str, partition: int, count: int
    ) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = await self.producer.send_batch(batch, topic, partition=partition)
        self._sent.setdefault((topic, partition), []).append((ack, count))
        return ack

    def last_offset(self, topic: str, partition: int) -> int | None:
        """The offset of the last message sent to the partition, once every batch sent to it
        was acknowledged; None before, or when one failed."""
        sent = self._sent.get((topic, partition), [])
        if not sent or not all(ack.done() and not ack.cancelled() for ack, _ in sent):
            return None
        if any(ack.exception() is not None for ack, _ in sent):
            return None
        ack, count = sent[-1]
        return int(ack.result().offset) + count - 1
