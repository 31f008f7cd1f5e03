"""What the cluster says about itself and orgsync's topics (`orgsync check`): brokers, and each
existing topic's partitions, replication and min ISR."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import AuthenticationFailedError, SaslAuthenticationFailed

from connectors.kafka.cluster import KafkaCluster

MIN_ISR = "min.insync.replicas"


@dataclass(frozen=True)
class TopicShape:
    name: str
    partitions: int
    replication: int
    min_insync: int | None  # None: the broker did not say


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
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, t["topic"], {MIN_ISR: None}) for t in described
    ]
    min_isr = min_insync_by_topic(await admin.describe_configs(resources))
    return [
        TopicShape(
            t["topic"],
            len(t["partitions"]),
            min(len(p["replicas"]) for p in t["partitions"]),
            min_isr.get(t["topic"]),
        )
        for t in described
    ]


def min_insync_by_topic(responses: Sequence[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for response in responses:
        for _code, _message, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] == MIN_ISR and entry[1] is not None:
                    found[name] = int(entry[1])
    return found
