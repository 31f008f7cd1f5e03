"""KafkaProducer replaces an idempotent producer whose sequence numbers the cluster refuses
(seen after a whole-cluster restart: every later send failed until the process restarted)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import NotLeaderForPartitionError, OutOfOrderSequenceNumber

from connectors.kafka import KafkaProducer
from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable


class FakeProducer:
    def __init__(self, error: Exception | None) -> None:
        self.error, self.stopped = error, False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.error is None:
            ack.set_result(None)
        else:
            ack.set_exception(self.error)
        return ack


class FakeCluster(KafkaCluster):
    def __init__(self, errors: list[Exception | None]) -> None:
        super().__init__("fake:9092")
        object.__setattr__(self, "made", [])
        object.__setattr__(self, "errors", errors)

    def producer(self, **options: Any) -> Any:
        made = FakeProducer(self.errors.pop(0))  # type: ignore[attr-defined]
        self.made.append(made)  # type: ignore[attr-defined]
        return made


async def test_refused_sequence_numbers_give_the_next_send_a_new_producer() -> None:
    cluster = FakeCluster([OutOfOrderSequenceNumber(), None])
    producer = KafkaProducer(cluster)
    with pytest.raises(KafkaUnavailable, match="OutOfOrderSequenceNumber"):
        await producer.send_many("t", [(b"k", b"v")])
    await producer.send_many("t", [(b"k", b"v")])
    first, second = cluster.made  # type: ignore[attr-defined]
    assert first.stopped and not second.stopped


async def test_an_ordinary_failure_keeps_the_producer() -> None:
    cluster = FakeCluster([NotLeaderForPartitionError()])
    producer = KafkaProducer(cluster)
    for _ in range(2):
        with pytest.raises(KafkaUnavailable):
            await producer.send_many("t", [(b"k", b"v")])
    [only] = cluster.made  # type: ignore[attr-defined]
    assert not only.stopped
