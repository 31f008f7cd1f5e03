"""The Kafka cluster orgsync runs on: where it is, how to authenticate, how topics replicate.

Every Kafka client of orgsync (the Faust worker, the round loop, the ingress, the CLI's readers
and writers, admin clients) is built from one `KafkaCluster`, so a secured cluster works for
all of them or for none:

    cluster = KafkaCluster.of(settings.kafka)
    consumer = cluster.consumer(group_id=None)     # aiokafka clients with the cluster's auth
    await ensure_topics(cluster, names, partitions)  # created with its replication settings
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError

from connectors.kafka.compaction import COMPACTION, align
from orgsync_kernel.settings import KafkaSettings

TOPIC_ALREADY_EXISTS = 36


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge in time (down, unreachable or the topic is missing)."""


def bootstrap_servers(broker: str) -> str:
    """Faust-style ``kafka://h1:9092;h2:9092`` -> aiokafka's ``h1:9092,h2:9092``."""
    hosts = broker.replace(";", ",").split(",")
    return ",".join(h.strip().removeprefix("kafka://") for h in hosts if h.strip())


@dataclass(frozen=True)
class KafkaCluster:
    """`servers` in aiokafka's `h1:9092,h2:9092` form; `auth` the security options every
    client gets (never printed: it may hold a SASL password)."""

    servers: str
    replication: int = 1
    min_insync: int = 1
    auth: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, kafka: KafkaSettings) -> KafkaCluster:
        """One per settings in a process: every component asks, and the TLS context (its CA
        and certificate files read) is built once and shared by all clients."""
        return _cluster_of(kafka)

    def options(self, **options: Any) -> dict[str, Any]:
        return {"bootstrap_servers": self.servers, **self.auth, **options}

    def consumer(self, *topics: str, **options: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(*topics, **self.options(**options))

    def producer(self, **options: Any) -> AIOKafkaProducer:
        """acks=all with idempotence: a retried send is never written twice."""
        return AIOKafkaProducer(**self.options(acks="all", enable_idempotence=True, **options))

    def admin(self, **options: Any) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**self.options(**options))

    def topic_configs(self, *, compacted: bool = False) -> dict[str, str]:
        configs = {"min.insync.replicas": str(self.min_insync)}
        return {**configs, **COMPACTION} if compacted else configs


@functools.lru_cache(maxsize=8)
def _cluster_of(kafka: KafkaSettings) -> KafkaCluster:
    servers = bootstrap_servers(kafka.broker)
    return KafkaCluster(
        servers, kafka.replication_factor, kafka.min_insync_replicas, client_auth(kafka)
    )


def client_auth(kafka: KafkaSettings) -> dict[str, Any]:
    """aiokafka's security options for the configured protocol."""
    protocol = kafka.security_protocol
    auth: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        auth["ssl_context"] = ssl_context(kafka)
    if protocol.startswith("SASL_"):
        assert kafka.sasl_password is not None  # the settings require it with SASL
        auth |= {
            "sasl_mechanism": kafka.sasl_mechanism,
            "sasl_plain_username": kafka.sasl_username,
            "sasl_plain_password": kafka.sasl_password.get_secret_value(),
        }
    return auth


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """The system's CAs unless `ssl_cafile` names others; a client certificate if configured."""
    context = ssl.create_default_context(cafile=kafka.ssl_cafile)
    if kafka.ssl_certfile is not None:
        context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile)
    return context


async def connection_error(cluster: KafkaCluster, wait_s: float) -> BaseException | None:
    """Why one connection to the first bootstrap server fails (None: it does not). A client's
    bootstrap reports every failure as "unable to bootstrap"; a single connection tells a
    refused login (`SaslAuthenticationFailed`) or TLS handshake (`ssl.SSLError`) apart."""
    host, _, port = cluster.servers.split(",")[0].rpartition(":")
    try:
        async with asyncio.timeout(wait_s):
            connection = await create_conn(host, int(port), **cluster.auth)
    except (KafkaError, TimeoutError, OSError) as error:
        return error
    connection.close()
    return None


async def ensure_topics(
    cluster: KafkaCluster,
    names: Iterable[str],
    partitions: int,
    *,
    compacted: bool = False,
    wait_s: float = 15.0,
) -> None:
    """Create the topics that do not exist yet and return once each one created has a leader
    for every partition. An existing topic keeps its partitions and replication; an existing
    compacted one is brought to `COMPACTION` (connectors/kafka/compaction.py)."""
    configs = cluster.topic_configs(compacted=compacted)
    topics = [NewTopic(n, partitions, cluster.replication, topic_configs=configs) for n in names]
    admin = cluster.admin(request_timeout_ms=int(wait_s * 1000))
    try:
        async with asyncio.timeout(wait_s):
            await admin.start()
            response = await admin.create_topics(topics)
            for topic, code, message in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise KafkaUnavailable(f"cannot create topic {topic}: error {code} {message}")
            await _until_led(admin, [t for t, code, _ in response.topic_errors if code == 0])
            if compacted:
                existing = [t for t, code, _ in response.topic_errors if code != 0]
                await align(admin, existing)
    except (KafkaError, TimeoutError, OSError) as error:
        raise KafkaUnavailable(f"cannot create topics: {type(error).__name__}") from None
    finally:
        await admin.close()


async def _until_led(admin: AIOKafkaAdminClient, created: Sequence[str]) -> None:
    """Until every partition of the topics just created has a leader. The broker answers the
    creation before its metadata shows them: a client that reads them at once is told they do
    not exist, and aiokafka logs an error for each metadata refresh (hundreds in a second)."""
    while created:
        described = await admin.describe_topics(list(created))
        created = [t["topic"] for t in described if not _led(t)]
        if created:
            await asyncio.sleep(0.05)


def _led(described: dict[str, Any]) -> bool:
    partitions = described["partitions"]
    return (
        not described["error_code"]
        and bool(partitions)
        and min(p["leader"] for p in partitions) >= 0
    )
