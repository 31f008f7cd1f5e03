"""Every Kafka topic name of orgsync, and the pipeline's consumer group, from the topic prefix.

Nothing else spells a topic name: the ingress, the pipeline, the operations code and the CLI all
ask `Topics(prefix)` (or `settings.topics`).

    <prefix>.hints            a record changed somewhere (ingress -> fetch)
    <prefix>.changes          the full records as fetched: the replayable change log
    <prefix>.writes.<target>  mapped records for one target org
    <prefix>.held             children waiting for their parents
    <prefix>.dlq              dead letters;  <prefix>.dlq.state  their retried/purged marks
    <prefix>.channels         Notification API channels;  <prefix>.cursors  poller/backfill
    <prefix>-pipeline         the Faust app id = the workers' consumer group; Faust names its
                              table changelogs `<prefix>-pipeline-<table>-changelog`
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
    def held(self) -> str:
        return f"{self.prefix}.held"

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
    def group(self) -> str:
        """The Faust app id of the pipeline, which is also its consumer group."""
        return f"{self.prefix}-pipeline"

    def changelog(self, table: str) -> str:
        return f"{self.group}-{table}-changelog"

    def consumed(self, targets: Iterable[str]) -> list[str]:
        """The topics the workers consume: hints, changes, held, one writes topic per target."""
        return [self.hints, self.changes, self.held, *(self.writes(t) for t in sorted(targets))]

    def pipeline(self, targets: Iterable[str]) -> list[str]:
        """Every stream topic of the pipeline: what the workers consume, and the DLQ."""
        return [*self.consumed(targets), self.dlq]
