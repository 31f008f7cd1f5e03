"""API credits and concurrency slots shared by every orgsync process of one deployment.

Each process counts what it spends per org in one-minute buckets and publishes them every
`PUBLISH_SECONDS` to the compacted topic `<prefix>.credits` (key `<org>|<process>`, value
`{minute: credits}`); every process follows the topic. A client's credit ledger adds what the
*other* processes spent in the last 24 h to its own, so the budget and the reserve that makes
backfills yield to live traffic hold for the deployment, not per process (`CreditLedger.share`).

Presence, for the concurrency slots Zoho counts per client id: with each publish a process
that attached an org's client (`attach`) also writes `<org>|<process>|slots` = `[claim,
heard_at, resumes_at, role]`: its limiter's claim (a worker's share of the partitions, a
command's or the ingress's `COMMAND_WEIGHT`), when it wrote, when its wait at the credit
reserve ends (null: not waiting) and what it is (`worker`, `backfill`, `dlq retry`, …). Each
process tells its limiter the sum of the other processes' claims heard within
`PRESENCE_SECONDS` (`ConcurrencyLimiter.others_claim`), and deletes its own entries when it
stops; one killed is forgotten after `PRESENCE_SECONDS`. The value is a list, never a dict, so
that readers of the credit buckets (of this release or the one before) pass it by.

    share = CreditShare(cluster, topics.credits, role="backfill")
    await share.start()                  # topic, its producer, follow, publish loop
    client.ledger.share = share.attach("regional_in", client.limiter, client.ledger)
    await share.stop()                   # publishes a last time (or: async with share: ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compacted import CompactedReader, CompactedTable, CompactedWriter

WINDOW_SECONDS = 24 * 3600
BUCKET_SECONDS = 60
PUBLISH_SECONDS = 5.0
OTHERS_KEPT_SECONDS = 1.0
PRESENCE_SECONDS = 3 * PUBLISH_SECONDS  # a process not heard of for this long is gone
SLOTS = "|slots"  # the suffix of a presence key


class Limiter(Protocol):
    claim: float

    async def others_claim(self, weight: float) -> None: ...


class Ledger(Protocol):
    resumes_at: float | None


@dataclass(frozen=True)
class Presence:
    """Another process of the deployment, as its presence entry tells."""

    org: str
    process: str
    claim: float
    heard_at: float
    resumes_at: float | None
    role: str


def presence_of(key: str, value: Any) -> Presence | None:
    """A presence entry (`<org>|<process>|slots`), None for any other key or a bad value."""
    if not key.endswith(SLOTS) or not isinstance(value, list) or len(value) < 4:
        return None
    org, _, process = key.removesuffix(SLOTS).rpartition("|")
    try:
        resumes = None if value[2] is None else float(value[2])
        return Presence(org, process, float(value[0]), float(value[1]), resumes, str(value[3]))
    except (TypeError, ValueError):
        return None


class OrgShare:
    """One org's view for its client's ledger: record own spending, read the others'."""

    def __init__(self, share: CreditShare, org: str) -> None:
        self.share, self.org = share, org

    def record(self, credits: int) -> None:
        self.share.record(self.org, credits)

    def others(self) -> int:
        return self.share.others(self.org)

    def others_spent(self) -> list[tuple[float, int]]:
        return self.share.others_spent(self.org)


class CreditShare:
    def __init__(
        self,
        cluster: KafkaCluster,
        topic: str,
        clock: Callable[[], float] = time.time,
        role: str = "process",
    ) -> None:
        self.cluster, self.clock, self.role = cluster, clock, role
        self.process = uuid.uuid4().hex[:12]
        self.table = CompactedTable(topic)
        self.reader = CompactedReader(cluster)
        self.writer: CompactedWriter | None = None
        self.producer: AIOKafkaProducer | None = None
        self.own: dict[str, dict[int, int]] = {}  # org -> minute -> credits
        self._dirty: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._others: dict[str, tuple[float, int]] = {}  # org -> (when summed, sum)
        self.attached: dict[str, tuple[Limiter, Ledger]] = {}

    def for_org(self, org: str) -> OrgShare:
        return OrgShare(self, org)

    def attach(self, org: str, limiter: Limiter, ledger: Ledger) -> OrgShare:
        """Share the org's slots too: publish the limiter's claim, tell it the others'."""
        self.attached[org] = (limiter, ledger)
        return self.for_org(org)

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
        return sum(n for _, n in self.others_spent(org))

    def others_spent(self, org: str) -> list[tuple[float, int]]:
        """The other processes' credits in the window, oldest first: (the end of the minute
        they were spent in, credits), so that a ledger can tell when they leave the window."""
        oldest = (int(self.clock()) - WINDOW_SECONDS) // BUCKET_SECONDS
        mine = f"{org}|{self.process}"
        spent: list[tuple[float, int]] = []
        for key, buckets in self.table.items():
            if key.startswith(f"{org}|") and key != mine and isinstance(buckets, dict):
                spent += [
                    (float((int(m) + 1) * BUCKET_SECONDS), int(n))
                    for m, n in buckets.items()
                    if int(m) > oldest
                ]
        return sorted(spent)

    def others_present(self, org: str) -> list[Presence]:
        """The deployment's other processes heard of in this org within `PRESENCE_SECONDS`."""
        now = self.clock()
        found = (presence_of(key, value) for key, value in self.table.items())
        return [
            p
            for p in found
            if p
            and p.org == org
            and p.process != self.process
            and now - p.heard_at < PRESENCE_SECONDS
        ]

    async def start(self) -> None:
        await ensure_topics(self.cluster, [self.table.topic], 1, compacted=True)
        self.producer = self.cluster.producer()
        await self.producer.start()
        self.writer = CompactedWriter(self.producer)
        await self.reader.follow([self.table])
        await self.publish()  # present before the first call: the workers make room
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
            await self.publish(leaving=True)
        await self.reader.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def publish(self, leaving: bool = False) -> None:
        """Write this process's buckets of the orgs it spent in since the last publish and
        its presence in the attached orgs (deleted when `leaving`), then tell each attached
        limiter the others' claims."""
        if self.writer is None:
            return
        oldest = (int(self.clock()) - WINDOW_SECONDS) // BUCKET_SECONDS
        for org in sorted(self._dirty):
            buckets = {m: n for m, n in self.own[org].items() if m > oldest}
            self.own[org] = buckets
            self.table[f"{org}|{self.process}"] = {str(m): n for m, n in buckets.items()}
        self._dirty.clear()
        for org, (limiter, ledger) in sorted(self.attached.items()):
            key = f"{org}|{self.process}{SLOTS}"
            if leaving:
                self.table.pop(key, None)
            else:
                self.table[key] = [limiter.claim, self.clock(), ledger.resumes_at, self.role]
        await self.writer.flush([self.table])
        for org, (limiter, _) in self.attached.items():
            await limiter.others_claim(sum(p.claim for p in self.others_present(org)))

    async def _publishing(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            with contextlib.suppress(Exception):  # Kafka out of reach: the next round
                await self.publish()
