"""API credits spent by every orgsync process of one deployment, shared through Kafka.

Each process counts what it spends per org in one-minute buckets and publishes them every
`PUBLISH_SECONDS` to the compacted topic `<prefix>.credits` (key `<org>|<process>`); every
process follows the topic. A client's credit ledger adds what the *other* processes spent in
the last 24 h to its own, so the budget and the reserve that makes backfills yield to live
traffic hold for the deployment, not per process (`CreditLedger.share`).

    share = CreditShare(cluster, topics.credits)
    await share.start()                  # topic, its producer, follow, publish loop
    client.ledger.share = share.for_org("regional_in")
    await share.stop()                   # publishes a last time (or: async with share: ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compacted import CompactedReader, CompactedTable, CompactedWriter

WINDOW_SECONDS = 24 * 3600
BUCKET_SECONDS = 60
PUBLISH_SECONDS = 5.0
OTHERS_KEPT_SECONDS = 1.0


class OrgShare:
    """One org's view for its client's ledger: record own spending, read the others'."""

    def __init__(self, share: CreditShare, org: str) -> None:
        self.share, self.org = share, org

    def record(self, credits: int) -> None:
        self.share.record(self.org, credits)

    def others(self) -> int:
        return self.share.others(self.org)


class CreditShare:
    def __init__(
        self,
        cluster: KafkaCluster,
        topic: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cluster, self.clock = cluster, clock
        self.process = uuid.uuid4().hex[:12]
        self.table = CompactedTable(topic)
        self.reader = CompactedReader(cluster)
        self.writer: CompactedWriter | None = None
        self.producer: AIOKafkaProducer | None = None
        self.own: dict[str, dict[int, int]] = {}  # org -> minute -> credits
        self._dirty: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._others: dict[str, tuple[float, int]] = {}  # org -> (when summed, sum)

    def for_org(self, org: str) -> OrgShare:
        return OrgShare(self, org)

    def record(self, org: str, credits: int) -> None:
        minute = int(self.clock()) // BUCKET_SECONDS
        buckets = self.own.setdefault(org, {})
        buckets[minute] = buckets.get(minute, 0) + credits
        self._dirty.add(org)

    def others(self, org: str) -> int:
        """Credits the other processes spent in this org within the window. Every API call
        asks, and the others publish every few seconds: the sum is kept for a second."""
        now = self.clock()
        kept = self._others.get(org)
        if kept is not None and now - kept[0] < OTHERS_KEPT_SECONDS:
            return kept[1]
        total = self._sum_others(org)
        self._others[org] = (now, total)
        return total

    def _sum_others(self, org: str) -> int:
        oldest = (int(self.clock()) - WINDOW_SECONDS) // BUCKET_SECONDS
        mine = f"{org}|{self.process}"
        total = 0
        for key, buckets in self.table.items():
            if key.startswith(f"{org}|") and key != mine and isinstance(buckets, dict):
                total += sum(int(n) for m, n in buckets.items() if int(m) > oldest)
        return total

    async def start(self) -> None:
        await ensure_topics(self.cluster, [self.table.topic], 1, compacted=True)
        self.producer = self.cluster.producer()
        await self.producer.start()
        self.writer = CompactedWriter(self.producer)
        await self.reader.follow([self.table])
        self._task = asyncio.create_task(self._publishing(), name="orgsync-credit-share")

    async def __aenter__(self) -> CreditShare:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # a last publish, best effort
            await self.publish()
        await self.reader.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def publish(self) -> None:
        """Write this process's buckets of the orgs it spent in since the last publish."""
        if self.writer is None or not self._dirty:
            return
        oldest = (int(self.clock()) - WINDOW_SECONDS) // BUCKET_SECONDS
        for org in sorted(self._dirty):
            buckets = {m: n for m, n in self.own[org].items() if m > oldest}
            self.own[org] = buckets
            self.table[f"{org}|{self.process}"] = {str(m): n for m, n in buckets.items()}
        self._dirty.clear()
        await self.writer.flush([self.table])

    async def _publishing(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            with contextlib.suppress(Exception):  # Kafka out of reach: the next round
                await self.publish()
