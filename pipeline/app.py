"""The Faust app of orgsync, built from Settings: the app, its topics and its tables.

Topics (all keyed `org/module/id`, see orgsync_kernel/events.py):
  hints           -> fetch_changed_records
  changes         -> sync_changes (dedup, route, transform, echo and conflict checks)
  writes.<target> -> apply_to_<target>, one topic per target org, so a failing target only
                     holds its own partitions back while the others keep writing
  held            -> release_held_changes (children waiting for their parents)
  dlq             <- dead letters from every stage
Tables: see pipeline/state.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from orgsync_kernel.events import Change, DeadLetter, HeldChange, Hint, Write
from orgsync_kernel.settings import Settings
from pipeline.faust_patches import FaustApp, fingerprint_table

PRODUCER_LINGER_S = 0.005  # a few ms of batching: one produce request per batch, not per message
# aiokafka keeps one open batch per partition and makes a sender wait until a full one is sent:
# at Faust's 16 KiB (8 changes) every agent stalled on broker round trips.
PRODUCER_MAX_BATCH_BYTES = 512 * 1024
TABLE_OPTIONS: dict[str, Any] = {
    "partitions": 1,
    "use_partitioner": True,
    "recovery_buffer_size": 1,
}


@dataclass(frozen=True)
class Pipeline:
    app: faust.App
    hints: faust.TopicT
    changes: faust.TopicT
    writes: dict[str, faust.TopicT]
    held: faust.TopicT
    dlq: faust.TopicT
    fingerprints: Any  # record_to_fingerprint: Table[str, dict]
    links: Any  # GlobalTable[str, str]
    states: Any  # record_state: GlobalTable[str, dict]

    def topic_names(self) -> list[str]:
        topics = [self.hints, self.changes, self.held, self.dlq, *self.writes.values()]
        return [name for topic in topics for name in topic.topics]


def create_pipeline(settings: Settings, app_id: str | None = None) -> Pipeline:
    kafka = settings.kafka
    app = FaustApp(
        app_id or settings.topics.group,
        broker=kafka.broker,
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
    )

    def topic(name: str, value_type: type[faust.Record]) -> faust.TopicT:
        return app.topic(name, key_type=str, value_type=value_type, partitions=kafka.partitions)

    names = settings.topics
    return Pipeline(
        app=app,
        hints=topic(names.hints, Hint),
        changes=topic(names.changes, Change),
        writes={org: topic(names.writes(org), Write) for org in settings.targets},
        held=topic(names.held, HeldChange),
        dlq=topic(names.dlq, DeadLetter),
        fingerprints=fingerprint_table(app, kafka.partitions),
        links=app.GlobalTable("links", default=None, key_type=str, **TABLE_OPTIONS),
        states=app.GlobalTable("record_state", default=None, key_type=str, **TABLE_OPTIONS),
    )
