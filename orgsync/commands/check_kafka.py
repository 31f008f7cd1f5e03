"""`orgsync check`'s Kafka rows: the cluster answers with the configured security settings, and
the topics orgsync already created match the configured partitions and replication (and the
compacted ones orgsync's compaction settings)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence

from connectors.kafka import KafkaCluster, KafkaError
from connectors.kafka.cluster import connection_error
from connectors.kafka.compaction import differing, shown
from connectors.kafka.topics import MIN_ISR, TopicShape, describe, login_refused
from orgsync.commands.check_module import FAIL, OK, WARN, Row
from orgsync_kernel.settings import KafkaSettings, Settings


async def check_kafka(settings: Settings, wait_s: float) -> list[Row]:
    kafka = settings.kafka
    cluster, expected = KafkaCluster.of(kafka), expected_topics(settings)
    try:
        shape = await describe(cluster, list(expected), wait_s)
    except (KafkaError, TimeoutError, OSError) as error:
        cause = await connection_error(cluster, wait_s) or error
        return [Row("kafka", kafka.broker, FAIL, unreachable(settings, cause, wait_s))]
    brokers = shape.brokers
    rows = [Row("kafka", kafka.broker, OK, f"{brokers} broker(s), cluster {shape.cluster_id}")]
    compacted = set(settings.topics.compacted())
    return [
        *rows,
        *topic_rows(kafka, expected, shape.topics, brokers),
        *compaction_rows([s for s in shape.topics if s.name in compacted]),
    ]


def unreachable(settings: Settings, error: BaseException, wait_s: float) -> str:
    """Why the cluster did not answer, naming the settings to look at (never their values)."""
    kafka = settings.kafka
    if login_refused(error):
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


def compaction_rows(shapes: Sequence[TopicShape]) -> list[Row]:
    """A warning per compacted topic whose settings differ from those orgsync sets (the next
    start of a worker sets them, unless the broker refuses)."""
    rows = []
    for shape in shapes:
        wanted = differing(shape.configs) if shape.configs else {}
        if wanted:
            found = shown({name: shape.configs.get(name) for name in wanted})
            problem = (
                f"compaction {found}, orgsync sets {shown(wanted)}: done at the next start of "
                "a worker (or kafka-configs --alter where the broker does not allow it)"
            )
            rows.append(Row("kafka_topic", shape.name, WARN, problem))
    return rows
