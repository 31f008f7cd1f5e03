"""Faust Records for the values of orgsync's topics; every topic is keyed by `record_key`.

hints   -> Hint        a record changed somewhere (webhook, notification, poll, backfill)
changes -> Change      the full record as fetched, the replayable change log per source org
writes  -> Write       one mapped record for one target org (one per route)
dlq     -> DeadLetter  a change or write that failed for good, with Zoho's reason

Every record carries its schema version in `schema` (orgsync_kernel/schema.py).
Times: `received_at`, `fetched_at`, `failed_at` are Unix epoch seconds (float) taken by orgsync;
`modified_time` and `event_time` are Zoho's ISO-8601 text, kept as sent.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from orgsync_kernel.schema import SchemaTooNew, Versioned

OPERATIONS = ("insert", "update", "delete")
# `lookup`: the processor asks for a parent record that a child points to.
# reconcile: a target record read before a two-way write (pipeline/worker/round.py)
# related: see RELATED_SOURCE (a release before it skips such a hint: workers upgrade first)
HINT_SOURCES = ("webhook", "notification", "poll", "backfill", "lookup", "reconcile", "related")
# On `decide` only (pipeline/worker/tables.py `RecordStates`): a write done for a target record
# of another worker's partition, to record in its state ("written"), or its state to drop.
WRITE_OPERATIONS = ("upsert", "delete", "written", "forgotten")


def record_key(org: str, module: str, record_id: str) -> str:
    """The Kafka key of every topic: `org/module/id` (org and module names contain no `/`)."""
    return f"{org}/{module}/{record_id}"


def link_key(org: str, module: str, record_id: str, other_org: str) -> str:
    """Key of the `links` table: the record `org/module/id` as seen from `other_org`."""
    return f"{other_org}|{org}/{module}/{record_id}"


def link_record(key: str) -> str:
    """The record a links-table key belongs to (`other|org/module[#kind]/id` -> `org/module/id`):
    the key that places it on a partition."""
    org, module, record_id = split_key(key.partition("|")[2])
    return record_key(org, module.partition("#")[0], record_id)


def split_key(key: str) -> tuple[str, str, str]:
    org, module, record_id = key.split("/", 2)
    return org, module, record_id


def parse_instant(text: str) -> datetime:
    """An ISO-8601 time as an aware instant (Zoho sends org-local offsets; naive = UTC)."""
    instant = datetime.fromisoformat(text)
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


class _RecordEvent(Versioned, abstract=True):
    """What hints and changes share: which record, what happened to it, who told us, when."""

    org: str
    module: str
    id: str
    operation: str
    source: str
    received_at: float

    def __post_init__(self) -> None:
        _check(self.operation, OPERATIONS, "operation")
        _check(self.source, HINT_SOURCES, "source")

    @property
    def key(self) -> str:
        return record_key(self.org, self.module, self.id)


class Hint(_RecordEvent, serializer="json", namespace="orgsync_kernel.events.Hint"):
    """A small notice that a record changed; the fetch stage turns it into a Change."""

    event_time: str | None = None


# The source of a hint that says a record's notes, attachments or tags may have changed while
# the record itself may not have (a related-action notification, the poller's Notes listing):
# its related items are read even when dedup finds the record unchanged.
RELATED_SOURCE = "related"


def hint_for(key: str, source: str, now: float) -> Hint:
    """An update hint for the record `key` (org/module/id): read it and sync it."""
    org, module, record_id = split_key(key)
    return Hint(
        org=org, module=module, id=record_id, operation="update", source=source, received_at=now
    )


class Change(_RecordEvent, serializer="json", namespace="orgsync_kernel.events.Change"):
    """One record's state as fetched from its org (for a delete, `record` may be empty)."""

    modified_time: str | None
    record: dict[str, Any]
    fetched_at: float | None = None
    # `orgsync backfill --force`: written even when dedup says the target has this content,
    # in full and over the target's own edits (it repairs a target that drifted).
    force: bool = False


class Write(Versioned, serializer="json", namespace="orgsync_kernel.events.Write"):
    """One mapped record to upsert into (or delete from) a target org, keyed by its source."""

    route: str
    target_org: str
    target_module: str
    source_org: str
    source_module: str
    source_id: str
    operation: str
    record: dict[str, Any]
    match_field: str
    content_hash: str
    modified_time: str | None
    attempt: int = 0
    target_id: str | None = None  # known from the id map (then written by id); for deletes
    # Two-way targets: per field, the version of the value written and the one it replaced
    # (pipeline/sync/versions.py `dump_sides`), kept in the target record's state.
    versions: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _check(self.operation, WRITE_OPERATIONS, "operation")

    @property
    def by_id(self) -> bool:
        """An update of a record orgsync knows in the target (else an upsert on the match
        field, or a delete)."""
        return self.operation == "upsert" and self.target_id is not None

    @property
    def key(self) -> str:
        return record_key(self.source_org, self.source_module, self.source_id)

    @property
    def target_key(self) -> str:
        """The target record (its id known: linked, or written)."""
        return record_key(self.target_org, self.target_module, str(self.target_id))


class HeldChange(Versioned, serializer="json", namespace="orgsync_kernel.events.HeldChange"):
    """A change whose lookups point to parents not yet in the target, waiting since `held_since`."""

    change: Change
    held_since: float
    parents: list[str]  # record keys (org/module/id) of the missing parents
    checked_at: float = 0.0  # when the parents were last looked for (0: never)

    @property
    def key(self) -> str:
        return self.change.key


class RelatedWork(Versioned, serializer="json", namespace="orgsync_kernel.events.RelatedWork"):
    """The notes, attachments and tags of one source record to sync along one route
    (pipeline/sync/related.py), once the record itself is linked in the target."""

    route: str
    org: str
    module: str
    id: str
    kinds: list[str]  # of "notes", "attachments", "tags"
    queued_at: float
    checked_at: float = 0.0  # when the parent's link was last looked for (0: never)
    asked: bool = False  # whether the unlinked records of its related lists were hinted

    @property
    def key(self) -> str:
        return record_key(self.org, self.module, self.id)


class DeadLetter(Versioned, serializer="json", namespace="orgsync_kernel.events.DeadLetter"):
    """A change that could not be synced, with everything needed to inspect and retry it.

    `stage` says where it failed: `decode` (a value of a newer schema version, `too_new`),
    `transform` (Rejected), `parent` (a lookup's parent never
    arrived), `write` (Zoho refused it; `code`/`message`/`details` are Zoho's), or `related`
    (a note, attachment or tag of the record; `details` names it). `record` is
    the payload to retry: the Write for `write`, the Change otherwise. `key` is its topic key.
    """

    id: str
    route: str
    stage: str
    key: str
    record: dict[str, Any]
    code: str
    message: str
    details: dict[str, Any]
    attempts: int
    failed_at: float


def too_new(error: SchemaTooNew, topic: str, key: bytes | None, value: bytes) -> DeadLetter:
    """The dead letter of a stream value written by a newer orgsync (a rolling upgrade under
    way): kept as it was, and retried as a hint for its record once the upgrade is done."""
    text = (key or b"").decode("utf-8", "replace")
    details = {"topic": topic, "schema": error.version, "value": value.decode("utf-8", "replace")}
    return dead_letter("", "decode", text, {}, "SCHEMA_TOO_NEW", str(error), details)


def dead_letter(
    route: str,
    stage: str,
    key: str,
    record: dict[str, Any],
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    attempts: int = 1,
) -> DeadLetter:
    """The one way a dead letter is made: a fresh id, the time of failure, Zoho's reason."""
    return DeadLetter(
        id=uuid.uuid4().hex,
        route=route,
        stage=stage,
        key=key,
        record=record,
        code=code,
        message=message,
        details=details or {},
        attempts=attempts,
        failed_at=time.time(),
    )
