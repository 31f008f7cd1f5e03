"""What the cluster says about itself and orgsync's topics (`orgsync check`): brokers, and each
existing topic's partitions, replication, min ISR and compaction settings."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import AuthenticationFailedError, SaslAuthenticationFailed

from connectors.kafka import compaction
from connectors.kafka.cluster import KafkaCluster
from connectors.kafka.compaction import COMPACTION, TopicConfigs

MIN_ISR = "min.insync.replicas"


@dataclass(frozen=True)
class TopicShape:
    name: str
    partitions: int
    replication: int
    min_insync: int | None  # None: the broker did not say
    configs: dict[str, str | None] = field(default_factory=dict)  # MIN_ISR and COMPACTION's


@dataclass(frozen=True)
class ClusterShape:
    cluster_id: str
    brokers: int
    topics: list[TopicShape]


async def describe(cluster: KafkaCluster, topics: Sequence[str], wait_s: float) -> ClusterShape:
    """The cluster and those of `topics` that exist; raises KafkaError, TimeoutError or OSError
    when it does not answer within `wait_s`."""
    admin = cluster.admin(request_timeout_ms=int(wait_s * 1000))
    try:
        async with asyncio.timeout(wait_s):
            await admin.start()
            described = await admin.describe_cluster()
            shapes = await topic_shapes(admin, topics)
    finally:
        await admin.close()
    return ClusterShape(described["cluster_id"], len(described["brokers"]), shapes)


def login_refused(error: BaseException) -> bool:
    return isinstance(error, AuthenticationFailedError | SaslAuthenticationFailed)


async def topic_shapes(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> list[TopicShape]:
    """The existing ones of these topics as the cluster describes them."""
    described = [t for t in await admin.describe_topics(list(topics)) if not t["error_code"]]
    if not described:
        return []
    names = [MIN_ISR, *COMPACTION]
    configs = await compaction.describe(admin, [t["topic"] for t in described], names)
    return [
        TopicShape(
            t["topic"],
            len(t["partitions"]),
            min(len(p["replicas"]) for p in t["partitions"]),
            _min_insync(configs.get(t["topic"])),
            configs[t["topic"]].effective if t["topic"] in configs else {},
        )
        for t in described
    ]


def _min_insync(configs: TopicConfigs | None) -> int | None:
    found = configs.effective.get(MIN_ISR) if configs else None
    return None if found is None else int(found)
