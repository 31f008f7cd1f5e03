"""Every Kafka topic name of orgsync, and the pipeline's consumer group, from the topic prefix.

Nothing else spells a topic name: the ingress, the pipeline, the operations code and the CLI all
ask `Topics(prefix)` (or `settings.topics`).

    <prefix>.hints            a record changed somewhere (ingress -> the round loop)
    <prefix>.fetched          records already read (backfill, replay, released children)
    <prefix>.decide           two-way writes, proposed to (or done for) the worker of their
                              target record, which decides (or records) them in its state
    <prefix>.changes          the full records as fetched: the replayable change log
    <prefix>.writes.<target>  mapped records queued for a target org that is slow or down
    <prefix>.held             children waiting for their parents
    <prefix>.related          notes, attachments and tags of records to sync
    <prefix>.dlq              dead letters;  <prefix>.dlq.state  their retried/purged marks
    <prefix>.fingerprints     dedup state per record (compacted, partitioned like hints)
    <prefix>.record-links     id links (compacted, partitioned like hints by the record a
                              link starts from)
    <prefix>.record-states    record states of records in orgs that routes write into
                              (compacted, partitioned like hints)
    <prefix>.links            links asked for across partitions, row and related-item maps
                              (compacted, one partition)
    <prefix>.states           record states of releases before 0.x (one partition; read once,
                              at the first start, to move them to record-states)
    <prefix>.channels         Notification API channels;  <prefix>.cursors  poller/backfill
    <prefix>.credits          API credits each process spent per org (compacted, one partition)
    <prefix>-rounds           the consumer group of the round loop (hints, fetched, decide)
    <prefix>-pipeline         the Faust app id = the consumer group of the cold-path agents
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def hints(self) -> str:
        return f"{self.prefix}.hints"

    @property
    def changes(self) -> str:
        return f"{self.prefix}.changes"

    def writes(self, target: str) -> str:
        return f"{self.prefix}.writes.{target}"

    @property
    def fetched(self) -> str:
        return f"{self.prefix}.fetched"

    @property
    def decide(self) -> str:
        return f"{self.prefix}.decide"

    @property
    def fingerprints(self) -> str:
        return f"{self.prefix}.fingerprints"

    @property
    def links(self) -> str:
        return f"{self.prefix}.links"

    @property
    def record_links(self) -> str:
        return f"{self.prefix}.record-links"

    @property
    def record_states(self) -> str:
        return f"{self.prefix}.record-states"

    @property
    def states(self) -> str:
        """Where releases before record-states kept every record state (one partition)."""
        return f"{self.prefix}.states"

    @property
    def rounds_group(self) -> str:
        """The consumer group of the round loop, which reads hints, fetched and decide."""
        return f"{self.prefix}-rounds"

    @property
    def held(self) -> str:
        return f"{self.prefix}.held"

    @property
    def related(self) -> str:
        return f"{self.prefix}.related"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def dlq_state(self) -> str:
        return f"{self.prefix}.dlq.state"

    @property
    def channels(self) -> str:
        return f"{self.prefix}.channels"

    @property
    def cursors(self) -> str:
        """Poller cursors and backfill progress (keys `poll/…` and `backfill/…`)."""
        return f"{self.prefix}.cursors"

    @property
    def credits(self) -> str:
        """What each orgsync process spent per org, per minute (connectors/kafka/credit_share)."""
        return f"{self.prefix}.credits"

    @property
    def group(self) -> str:
        """The Faust app id of the pipeline, which is also the cold-path agents' group."""
        return f"{self.prefix}-pipeline"

    def consumers(self, targets: Iterable[str]) -> dict[str, list[str]]:
        """What the workers consume, per consumer group: the round loop reads hints, fetched
        and decide; the cold-path agents read held, related and one queue per target."""
        return {
            self.rounds_group: [self.hints, self.fetched, self.decide],
            self.group: [self.held, self.related, *(self.writes(t) for t in sorted(targets))],
        }

    def consumed(self, targets: Iterable[str]) -> list[str]:
        """Every topic the workers consume, whatever the group."""
        return [topic for topics in self.consumers(targets).values() for topic in topics]

    def pipeline(self, targets: Iterable[str]) -> list[str]:
        """Every stream topic of the pipeline: what the workers consume, the change log and
        the DLQ."""
        return [*self.consumed(targets), self.changes, self.dlq]

    def partitioned(self, targets: Iterable[str]) -> list[str]:
        """The topics created with `kafka.partitions` partitions (co-partitioned by key)."""
        return [*self.pipeline(targets), *self.record_tables()]

    def record_tables(self) -> list[str]:
        """The compacted topics partitioned like hints: state of one record each."""
        return [self.fingerprints, self.record_links, self.record_states]

    def single(self) -> list[str]:
        """The compacted topics of one partition: state every process reads whole."""
        return [self.links, self.states, self.channels, self.cursors, self.credits, self.dlq_state]

    def compacted(self) -> list[str]:
        """Every compacted topic: the fingerprints and those of one partition."""
        return [*self.record_tables(), *self.single()]
