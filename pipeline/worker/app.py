"""The Faust app of orgsync's cold paths, built from Settings: the app and its topics.

The hot path (hints and fetched records to target writes) is the round loop of
pipeline/worker/loop.py, beside this app in the same worker. The app's agents (agents.py):
  writes.<target> -> apply_to_<target>: the queue of a target that was slow or failing
  held            -> release_held_changes: children waiting for their parents, back to fetched
  related         -> sync_related: notes, attachments and tags of records
  dlq             <- dead letters of the cold paths
All topics are keyed `org/module/id` (orgsync_kernel/events.py). The state is in
pipeline/worker/state.py, shared with the round loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust

from connectors.kafka.cluster import client_auth
from orgsync_kernel.events import DeadLetter, HeldChange, RelatedWork, Write, too_new
from orgsync_kernel.schema import SchemaTooNew
from orgsync_kernel.settings import KafkaSettings, Settings
from pipeline.worker.faust_patches import FaustApp, produce

log = logging.getLogger(__name__)
PRODUCER_LINGER_S = 0.005  # a few ms of batching: one produce request per batch, not per message
# aiokafka keeps one open batch per partition and makes a sender wait until a full one is sent:
# at Faust's 16 KiB (8 changes) every agent stalled on broker round trips.
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


def faust_credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    """aiokafka's security options (connectors/kafka/cluster.py decides them) in Faust's terms."""
    auth = client_auth(kafka)
    if "sasl_mechanism" in auth:
        return faust.SASLCredentials(
            username=auth["sasl_plain_username"],
            password=auth["sasl_plain_password"],
            ssl_context=auth.get("ssl_context"),
            mechanism=auth["sasl_mechanism"],
        )
    return faust.SSLCredentials(auth["ssl_context"]) if "ssl_context" in auth else None


class VersionedTopic(faust.Topic):
    """A topic whose value of a newer schema version (a newer release wrote it during a rolling
    upgrade) goes to the DLQ instead of crashing the agent: Faust has acknowledged the message
    already, and would otherwise throw the error into the agent (orgsync_kernel/schema.py)."""

    async def on_value_decode_error(self, exc: Exception, message: Any) -> None:
        error = exc.__cause__
        if not isinstance(error, SchemaTooNew):
            await super().on_value_decode_error(exc, message)
            return
        log.error("dead-lettered topic=%s offset=%d: %s", message.topic, message.offset, error)
        letter = too_new(error, message.topic, message.key, message.value)
        app: Any = self.app  # a FaustApp (pipeline/worker/faust_patches.py)
        await (await produce(app, app.dead_letters, letter.key, letter))


@dataclass(frozen=True)
class Pipeline:
    app: faust.App
    writes: dict[str, faust.TopicT]
    held: faust.TopicT
    related: faust.TopicT
    dlq: faust.TopicT

    def topic_names(self) -> list[str]:
        topics = [self.held, self.related, self.dlq, *self.writes.values()]
        return [name for topic in topics for name in topic.topics]


def create_pipeline(settings: Settings, app_id: str | None = None) -> Pipeline:
    kafka = settings.kafka
    app = FaustApp(
        app_id or settings.topics.group,
        broker=kafka.broker,
        broker_credentials=faust_credentials(kafka),
        store="memory://",
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        # A restarted worker must not wait for its stopped predecessor's session to expire.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        stream_wait_empty=False,
        producer_linger=PRODUCER_LINGER_S,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        Topic=VersionedTopic,
    )
    app.dead_letters = settings.topics.dlq

    def topic(name: str, value_type: type[faust.Record]) -> faust.TopicT:
        return app.topic(name, key_type=str, value_type=value_type, partitions=kafka.partitions)

    names = settings.topics
    return Pipeline(
        app=app,
        writes={org: topic(names.writes(org), Write) for org in settings.targets},
        held=topic(names.held, HeldChange),
        related=topic(names.related, RelatedWork),
        dlq=topic(names.dlq, DeadLetter),
    )
