"""The Faust app of orgsync, built from Settings: the app, its topics and its tables.

Topics (all keyed `org/module/id`, see pipeline/models.py):
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
from faust.transport.drivers import aiokafka as kafka_driver

from pipeline.models import Change, DeadLetter, HeldChange, Hint, Write
from pipeline.settings import Settings

TABLE_OPTIONS: dict[str, Any] = {"partitions": 1, "use_partitioner": True,
                                 "recovery_buffer_size": 1}


# Faust's worker consumer asks the broker to hold an empty fetch for 1.5 s. aiokafka leaves the
# partitions that still have buffered records out of the next fetch, so records arriving there
# wait for the pending fetch to time out: with several partitions, every batch stalled ~1.5 s.
FETCH_MAX_WAIT_MS = 50
PRODUCER_LINGER_S = 0.005  # a few ms of batching: one produce request per batch, not per message
# aiokafka keeps one open batch per partition and makes a sender wait until a full one is sent:
# at Faust's 16 KiB (8 changes) every agent stalled on broker round trips.
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


class _ConsumerThread(kafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by AIOKafkaConsumer.start()
        return consumer


class _Consumer(kafka_driver.Consumer):
    """Faust's consumer, but a stream partition is handed to the agents only once it was
    sought to its committed offset and the flow of messages was resumed.

    After a rebalance Faust resumes the stream partitions, seeks them to their committed
    offsets, and only then resumes the flow (faust/tables/recovery.py). A record fetched
    before the seek reached the agents and was then rewound under the running fetcher:
    delivered twice or not at all. A record fetched between the seek and the flow's resumption
    was dropped by the fetch loop (flow suspended) with no seek left to read it again: a
    restarted worker skipped the first change of a partition. Here the stream partitions that
    Faust resumes stay inactive until both `perform_seek` and `resume_flow` have run.
    """

    _unsought: frozenset[Any] = frozenset()  # resumed by Faust, not yet sought
    _awaiting_flow: frozenset[Any] = frozenset()  # sought, waiting for the flow to resume

    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def resume_partitions(self, tps: Any) -> None:
        tps = set(tps)
        streams = {tp for tp in tps if not self._is_changelog_tp(tp)}
        self._unsought = self._unsought | streams
        super().resume_partitions(tps - streams)

    def pause_partitions(self, tps: Any) -> None:
        tps = set(tps)
        self._unsought = self._unsought - tps
        self._awaiting_flow = self._awaiting_flow - tps
        super().pause_partitions(tps)

    async def perform_seek(self) -> None:
        try:
            await super().perform_seek()
        finally:
            self._awaiting_flow = self._awaiting_flow | self._unsought
            self._unsought = frozenset()
            if self.flow_active:
                self._activate_sought_partitions()

    def resume_flow(self) -> None:
        super().resume_flow()
        self._activate_sought_partitions()

    def _activate_sought_partitions(self) -> None:
        sought, self._awaiting_flow = self._awaiting_flow, frozenset()
        super().resume_partitions(sought & set(self.assignment()))

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:  # noqa: ASYNC109
        """Fetch for a snapshot of the active partitions. Faust passes its live set, and
        aiokafka reads an empty set as "every partition": when the set emptied during the wait
        (the changelogs paused at the end of a recovery), aiokafka handed out records of
        inactive stream partitions, Faust discarded them, and the position stayed past them."""
        if active_partitions is not None:
            active_partitions = frozenset(active_partitions)
        return await super()._getmany(active_partitions, timeout)

    async def seek_to_committed(self) -> Any:
        """Also rewind the stream partitions that have no committed offset (or 0) to their
        beginning. Faust drops fetched records that it cannot hand to a stream at that moment
        (a partition paused meanwhile, a rebalance starting) and relies on this seek to read
        them again; aiokafka seeks only to a committed offset above 0, so on a partition that
        was never committed (a worker killed before its first commit there) the position
        stayed past the dropped records, and they were never processed."""
        committed = await super().seek_to_committed()
        uncommitted = [tp for tp, offset in committed.items()
                       if not offset and not self._is_changelog_tp(tp)]
        if uncommitted:
            await self._thread.seek_to_beginning(*uncommitted)
        return committed


class _Transport(kafka_driver.Transport):
    Consumer = _Consumer


class FaustApp(faust.App):
    """faust.App whose Kafka transport creates the consumer above: every Faust service of
    orgsync (and the stack's smoke test) runs on it."""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def writes_topic_name(settings: Settings, target: str) -> str:
    return f"{settings.topics.writes}.{target}"


def held_topic_name(settings: Settings) -> str:
    return f"{settings.kafka.topic_prefix}.held"


def target_orgs(settings: Settings) -> list[str]:
    return sorted({route.target for route in settings.sync})


def fingerprint_table(app: faust.App, partitions: int) -> Any:
    """The processor's dedup table. It is written after a batch's writes are acknowledged,
    outside any event's context, so the producer's partitioner places each entry; on the raw
    key (not Faust's JSON-quoted one) that is the partition number of the record's `changes`
    partition, whose worker recovers it."""
    table: Any = app.Table("record_to_fingerprint", default=None, key_type=str,
                           partitions=partitions, use_partitioner=True)
    table.key_serializer = "raw"
    table.changelog_topic = table._new_changelog_topic()  # the same topic, with raw keys
    return table


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
        app_id or f"{kafka.topic_prefix}-pipeline",
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
        return app.topic(name, key_type=str, value_type=value_type,
                         partitions=kafka.partitions)

    names = settings.topics
    return Pipeline(
        app=app,
        hints=topic(names.hints, Hint),
        changes=topic(names.changes, Change),
        writes={org: topic(writes_topic_name(settings, org), Write)
                for org in target_orgs(settings)},
        held=topic(held_topic_name(settings), HeldChange),
        dlq=topic(names.dlq, DeadLetter),
        fingerprints=fingerprint_table(app, kafka.partitions),
        links=app.GlobalTable("links", default=None, key_type=str, **TABLE_OPTIONS),
        states=app.GlobalTable("record_state", default=None, key_type=str, **TABLE_OPTIONS),
    )
