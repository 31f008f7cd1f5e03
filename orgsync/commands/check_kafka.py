"""`orgsync check`'s Kafka rows: the cluster answers with the configured security settings, and
the topics orgsync already created match the configured partitions and replication."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import AuthenticationFailedError, KafkaError, SaslAuthenticationFailed

from connectors.cluster import KafkaCluster, connection_error
from orgsync.commands.check_module import FAIL, OK, Row
from orgsync_kernel.settings import KafkaSettings, Settings

MIN_ISR = "min.insync.replicas"


@dataclass(frozen=True)
class TopicShape:
    name: str
    partitions: int
    replication: int
    min_insync: int | None  # None: the broker did not say


async def check_kafka(settings: Settings, wait_s: float) -> list[Row]:
    kafka = settings.kafka
    cluster, expected = KafkaCluster.of(kafka), expected_topics(settings)
    admin = cluster.admin(request_timeout_ms=int(wait_s * 1000))
    try:
        async with asyncio.timeout(wait_s):
            await admin.start()
            described = await admin.describe_cluster()
            shapes = await topic_shapes(admin, expected)
    except (KafkaError, TimeoutError, OSError) as error:
        cause = await connection_error(cluster, wait_s) or error
        return [Row("kafka", kafka.broker, FAIL, unreachable(settings, cause, wait_s))]
    finally:
        await admin.close()
    brokers = len(described["brokers"])
    rows = [
        Row("kafka", kafka.broker, OK, f"{brokers} broker(s), cluster {described['cluster_id']}")
    ]
    return rows + topic_rows(kafka, expected, shapes, brokers)


def unreachable(settings: Settings, error: BaseException, wait_s: float) -> str:
    """Why the cluster did not answer, naming the settings to look at (never their values)."""
    kafka = settings.kafka
    if isinstance(error, AuthenticationFailedError | SaslAuthenticationFailed):
        return (
            f"authentication failed ({kafka.sasl_mechanism} as {kafka.sasl_username!r}): check "
            "kafka.sasl_username and the variable behind kafka.sasl_password"
        )
    if isinstance(error, ssl.SSLError):
        reason = error.reason or type(error).__name__
        return f"TLS handshake failed ({reason}): check kafka.ssl_cafile and the broker certificate"
    hint = "is the broker running?"
    if kafka.security_protocol != "PLAINTEXT":
        hint += f" Does it expect {kafka.security_protocol} on this port?"
    return f"no answer within {wait_s:g} s ({type(error).__name__}); {hint}"


def expected_topics(settings: Settings) -> dict[str, int]:
    """Topic -> the partition count orgsync creates it with."""
    kafka, topics = settings.kafka, settings.topics
    expected = {name: kafka.partitions for name in topics.partitioned(settings.targets)}
    return expected | {name: 1 for name in topics.single()}


async def topic_shapes(admin: AIOKafkaAdminClient, expected: dict[str, int]) -> list[TopicShape]:
    """The existing ones of these topics as the cluster describes them."""
    described = [t for t in await admin.describe_topics(list(expected)) if not t["error_code"]]
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


def topic_rows(
    kafka: KafkaSettings, expected: dict[str, int], shapes: Sequence[TopicShape], brokers: int
) -> list[Row]:
    rows = [
        Row("kafka_topic", shape.name, FAIL, problem)
        for shape in shapes
        if (problem := shape_problem(shape, expected[shape.name], kafka))
    ]
    if kafka.replication_factor > brokers:
        needs = f"replication_factor {kafka.replication_factor} needs as many brokers"
        rows.append(
            Row("kafka_replication", kafka.broker, FAIL, f"{needs}; the cluster has {brokers}")
        )
    if not rows:
        summary = (
            f"{len(shapes)} of {len(expected)} topics exist (the rest are created at start), all "
            f"with the configured partitions, replication {kafka.replication_factor} and min ISR "
            f"{kafka.min_insync_replicas}"
        )
        rows.append(Row("kafka_topics", kafka.topic_prefix, OK, summary))
    return rows


def shape_problem(shape: TopicShape, partitions: int, kafka: KafkaSettings) -> str:
    replication, min_insync = kafka.replication_factor, kafka.min_insync_replicas
    problems = []
    if shape.partitions != partitions:
        problems.append(
            f"{shape.partitions} partitions, the config says {partitions} (a partition count "
            "cannot change under running workers: keys would move)"
        )
    if shape.replication < replication:
        problems.append(
            f"replication {shape.replication}, the config says {replication} (raise it with "
            "kafka-reassign-partitions)"
        )
    if shape.min_insync is not None and shape.min_insync < min_insync:
        problems.append(
            f"{MIN_ISR}={shape.min_insync}, the config says {min_insync} (kafka-configs --alter)"
        )
    return "; ".join(problems)
