"""What the status page reads from Kafka rather than from this process, so a restart of the
process resets none of it.

    state = KafkaState(settings)
    await state.start()                     # follows <prefix>.credits and <prefix>.channels
    state.credits_per_minute("src", since)  # every process's spend, one point per minute
    state.credits_spent("src", since)
    state.presence("src", now)              # the processes sharing the org's slots now
    state.channels()                        # org, module, expiry (never a channel's token)
    await state.stop()

    kafka_probe(settings)                   # the sampler's Kafka figures: per topic, messages
                                            # ever written (end offsets) and the group's lag

Each process of the deployment publishes its credit spend per org and minute to the compacted
`<prefix>.credits` (connectors/kafka/credit_share.py); the ingress keeps its Notification API
channels in `<prefix>.channels` (connectors/ingress/channels.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.ingress.channels import KEY_PREFIX as CHANNEL_PREFIX
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.compacted import CompactedReader, CompactedTable
from connectors.kafka.credit_share import (
    BUCKET_SECONDS,
    PRESENCE_SECONDS,
    Presence,
    presence_of,
)
from orgsync_kernel.settings import Settings
from orgsync_operations.offsets import topic_stats
from orgsync_operations.sampler import Probe, Samples, Series

TOPIC_END = "kafka_topic_end_offset"  # sample names of the probe (not in the registry)
TOPIC_LAG = "kafka_topic_lag"


@dataclass(frozen=True)
class Channel:
    org: str
    module: str
    expires_at: float


class KafkaState:
    def __init__(self, settings: Settings) -> None:
        self.cluster = KafkaCluster.of(settings.kafka)
        self.credits = CompactedTable(settings.topics.credits)
        self.channel_table = CompactedTable(settings.topics.channels)
        self.reader = CompactedReader(self.cluster)

    async def start(self) -> None:
        tables = [self.credits, self.channel_table]
        topics = [table.topic for table in tables]
        await ensure_topics(self.cluster, topics, 1, compacted=True)
        await self.reader.follow(tables)

    async def stop(self) -> None:
        await self.reader.stop()

    def _minutes(self, org: str) -> dict[int, int]:
        """Credits spent in `org` per minute, summed over the processes."""
        minutes: dict[int, int] = {}
        for key, buckets in self.credits.items():
            if key.startswith(f"{org}|") and isinstance(buckets, dict):
                for minute, spent in buckets.items():
                    minutes[int(minute)] = minutes.get(int(minute), 0) + int(spent)
        return minutes

    def credits_per_minute(self, org: str, since: float, until: float) -> Series:
        """One point per minute from `since` to `until` (the minute's start), zeros included."""
        minutes = self._minutes(org)
        first, last = int(since) // BUCKET_SECONDS, int(until) // BUCKET_SECONDS
        return [
            (float(m * BUCKET_SECONDS), float(minutes.get(m, 0))) for m in range(first, last + 1)
        ]

    def credits_spent(self, org: str, since: float) -> int:
        first = int(since) // BUCKET_SECONDS
        return sum(n for m, n in self._minutes(org).items() if m >= first)

    def presence(self, org: str, now: float) -> list[Presence]:
        """The processes heard of in `org` within `PRESENCE_SECONDS` (their claims on the
        org's slots, and whether each waits at the credit reserve), by role."""
        found = (presence_of(key, value) for key, value in self.credits.items())
        live = [p for p in found if p and p.org == org and now - p.heard_at < PRESENCE_SECONDS]
        return sorted(live, key=lambda p: (p.role, p.process))

    def channels(self) -> list[Channel]:
        found = [_channel(v) for k, v in self.channel_table.items() if k.startswith(CHANNEL_PREFIX)]
        return sorted((c for c in found if c is not None), key=lambda c: (c.org, c.module))


def _channel(value: Any) -> Channel | None:
    try:
        return Channel(str(value["org"]), str(value["module"]), float(value["expires_at"]))
    except (KeyError, TypeError, ValueError):
        return None


def kafka_probe(settings: Settings) -> Probe:
    also = [settings.topics.changes, settings.topics.dlq]

    async def probe() -> Samples:
        stats = await topic_stats(settings, also, newest=False)
        return {
            TOPIC_END: [({"topic": topic}, float(s.end)) for topic, s in stats.items()],
            TOPIC_LAG: [
                ({"topic": topic}, float(s.lag)) for topic, s in stats.items() if s.lag is not None
            ],
        }

    return probe
