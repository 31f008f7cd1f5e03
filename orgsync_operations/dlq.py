"""The dead-letter store: list, show, retry and purge what the pipeline could not sync.

The pipeline appends `DeadLetter`s to the `<prefix>.dlq` topic and never changes them. What an
operator did with an entry is kept beside it, in the compacted topic `<prefix>.dlq.state`
(key: the entry id, value `{"state": "retried"|"purged", "at": epoch, "via": "write"|"hint"}`),
so `list` shows only the open entries, from any machine and after any restart.

How a retry works ("after the data is fixed")
---------------------------------------------
A retry must sync what the source holds *now*, not what it held when it failed, so:

- `transform`, `parent` and `fetch` entries: a Hint for the source record goes to `hints`. The
  pipeline re-reads the record (one batched GET) and processes it again. These stages failed
  before the dedup fingerprint was stored, so the re-read copy is processed in full.
- `write` entries: the retry first reads the source record (one GET per 100 entries per org).
  - It changed since the failed write (its Modified_Time is later) or it is gone: a Hint, as
    above. Re-sending the old Write would write stale values, or fail again on the same data.
  - It did not change: the fix was made elsewhere (a target field made optional, a picklist
    value added, a user activated). A Hint would be dropped as a duplicate of the change the
    pipeline already accepted, so the failed Write itself goes back to `writes.<target>`,
    with `attempt` reset to 0. Deletes are always re-sent as they were.
The entry is marked `retried` once Kafka acknowledged the re-published message; if the record
fails again, the pipeline dead-letters it anew under a new id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from connectors.kafka import (
    AIOKafkaConsumer,
    ConsumerRecord,
    KafkaError,
    Producer,
    TopicPartition,
    apply_compacted,
)
from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable, ensure_topics
from connectors.zoho import ZohoError
from orgsync_kernel.events import DeadLetter, Hint, Write, parse_instant, split_key
from orgsync_kernel.schema import HEADERS
from orgsync_kernel.settings import Settings

log = logging.getLogger(__name__)
States = Literal["retried", "purged"]
Via = Literal["write", "hint"]
_SECRET_WORDS = ("token", "secret", "password", "authorization")


def redacted(value: Any) -> Any:
    """A copy of `value` with the values of secret-looking keys masked (defence in depth)."""
    if isinstance(value, Mapping):
        return {
            k: "***" if any(w in str(k).lower() for w in _SECRET_WORDS) else redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


@dataclass(frozen=True)
class Entry:
    letter: DeadLetter
    state: dict[str, Any] | None = None  # None: open

    @property
    def id(self) -> str:
        return self.letter.id

    def summary(self) -> dict[str, Any]:
        letter = self.letter
        return {
            "id": letter.id,
            "route": letter.route,
            "stage": letter.stage,
            "key": letter.key,
            "code": letter.code,
            "message": letter.message,
            "failed_at": letter.failed_at,
            "attempts": letter.attempts,
        }

    def to_json(self) -> dict[str, Any]:
        body = {
            **self.summary(),
            "details": self.letter.details,
            "record": self.letter.record,
            "state": self.state,
        }
        return dict(redacted(body))


class DlqStore:
    """Follows the `dlq` and `dlq.state` topics; `refresh()` reads what is new since last time.

    `keep_done=False` (the long-running status page) forgets the payload of entries that were
    retried or purged; the CLI keeps them so that `show` still finds them.
    """

    def __init__(
        self,
        settings: Settings,
        producer: Producer,
        *,
        keep_done: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.keep_done = keep_done
        self.timeout = timeout
        self.cluster = KafkaCluster.of(settings.kafka)
        self.topics = (settings.topics.dlq, settings.topics.dlq_state)
        self._letters: dict[str, DeadLetter] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()
        # Kept between refreshes (the status page and the DLQ gauge refresh every few seconds);
        # dropped after a Kafka error so that the next refresh starts from a fresh connection.
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        await ensure_topics(self.cluster, [self.topics[0]], self.settings.kafka.partitions)
        await ensure_topics(self.cluster, [self.topics[1]], 1, compacted=True)
        await self.refresh()

    async def refresh(self) -> None:
        async with self._lock:
            try:
                async with asyncio.timeout(self.timeout):
                    await self._read_new()
            except (KafkaError, TimeoutError, OSError) as error:
                await self.close()
                raise KafkaUnavailable(f"cannot read the DLQ: {type(error).__name__}") from None

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    def entries(self, route: str | None = None, *, include_done: bool = False) -> list[Entry]:
        """Entries, newest first; only the open ones unless `include_done`."""
        found = [
            Entry(letter, self._states.get(letter.id))
            for letter in self._letters.values()
            if route is None or letter.route == route
        ]
        found = [e for e in found if include_done or e.state is None]
        return sorted(found, key=lambda e: e.letter.failed_at, reverse=True)

    def get(self, entry_id: str) -> Entry | None:
        letter = self._letters.get(entry_id)
        return None if letter is None else Entry(letter, self._states.get(entry_id))

    async def mark(
        self,
        entry_ids: Sequence[str],
        state: States,
        via: Via | None = None,
    ) -> None:
        values = {i: {"state": state, "at": time.time(), "via": via} for i in entry_ids}
        if not values:
            return
        await self.producer.send_many(
            self.topics[1],
            [(i.encode(), orjson.dumps(v)) for i, v in values.items()],
            headers=HEADERS,
        )
        self._states.update(values)
        self._forget_done()

    async def _reader(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = self.cluster.consumer(
                enable_auto_commit=False, group_id=None, fetch_max_wait_ms=50
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def _read_new(self) -> None:
        consumer = await self._reader()
        partitions = known_partitions(consumer, self.topics) or await partitions_of(
            self.cluster, self.topics
        )
        if set(partitions) != consumer.assignment():
            consumer.assign(partitions)
        for tp in partitions:
            if tp in self._positions:
                consumer.seek(tp, self._positions[tp])
            else:
                await consumer.seek_to_beginning(tp)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=500)
                for message in batch.get(tp, []):
                    self._apply(tp.topic, message)
            self._positions[tp] = await consumer.position(tp)
        self._forget_done()

    def _apply(self, topic: str, message: ConsumerRecord[bytes, bytes]) -> None:
        if topic == self.topics[1]:
            apply_compacted(self._states, message.key, message.value, topic, message.headers)
        elif message.value is not None:
            try:
                letter = DeadLetter.loads(message.value)
            except (ValueError, TypeError, KeyError) as error:  # SchemaTooNew says so
                log.warning("dlq: skipped an entry that is not a DeadLetter: %s", error)
                return
            self._letters[letter.id] = letter

    def _forget_done(self) -> None:
        if not self.keep_done:
            for entry_id in self._states.keys() & self._letters.keys():
                del self._letters[entry_id]


def known_partitions(
    consumer: AIOKafkaConsumer, topics: Sequence[str]
) -> list[TopicPartition] | None:
    """Every partition of `topics` from the consumer's own metadata (kept current for the
    topics it is assigned), so that a refresh opens no admin connection; None while it does
    not know them all yet."""
    found: list[TopicPartition] = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if not ids:
            return None
        found += [TopicPartition(topic, p) for p in sorted(ids)]
    return found


async def partitions_of(cluster: KafkaCluster, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of the existing `topics` (a missing topic has none)."""
    admin = cluster.admin()
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in sorted(t["partitions"], key=lambda p: p["partition"])
    ]


# --- retry --------------------------------------------------------------------------------------


class SourceReader(Protocol):
    async def get_by_ids(self, module: str, ids: Iterable[str]) -> list[dict[str, Any]]: ...


GONE = "gone"  # the source record no longer exists


def retry_via(letter: DeadLetter, source_modified: str | None) -> Via:
    """How to retry `letter` (see the module docstring); `source_modified` is the source
    record's Modified_Time now, or GONE. Pure."""
    if letter.stage != "write":
        return "hint"
    write = Write.from_data(letter.record)
    if write.operation == "delete":
        return "write"
    if source_modified == GONE or not source_modified or not write.modified_time:
        return "hint"
    return (
        "hint" if parse_instant(source_modified) > parse_instant(write.modified_time) else "write"
    )


def retry_message(
    settings: Settings,
    letter: DeadLetter,
    via: Via,
    now: float,
) -> tuple[str, bytes, bytes]:
    """(topic, key, value) that retries `letter`."""
    if via == "write":
        write = Write.from_data(letter.record).derive(attempt=0)
        return settings.topics.writes(write.target_org), write.key.encode(), write.dumps()
    org, module, record_id = split_key(letter.key)
    hint = Hint(
        org=org, module=module, id=record_id, operation="update", source="backfill", received_at=now
    )
    return settings.topics.hints, hint.key.encode(), hint.dumps()


@dataclass
class RetryReport:
    done: dict[str, Via] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # entry id -> why


class Retrier:
    """Re-publishes entries of `store`; reads write-stage sources with `readers` (by org)."""

    def __init__(self, store: DlqStore, readers: Mapping[str, SourceReader]) -> None:
        self.store = store
        self.readers = readers
        self.settings = store.settings

    async def retry(self, entries: Sequence[Entry]) -> RetryReport:
        report = RetryReport()
        modified = await self._source_times(
            [e for e in entries if e.letter.stage == "write"], report
        )
        now = time.time()
        for entry in entries:
            if entry.id in report.failed:
                continue
            problem = self._unroutable(entry.letter)
            if problem:
                report.failed[entry.id] = problem
                continue
            via = retry_via(entry.letter, modified.get(entry.letter.key, GONE))
            topic, key, value = retry_message(self.settings, entry.letter, via, now)
            await self.store.producer.send_many(topic, [(key, value)])
            await self.store.mark([entry.id], "retried", via)
            report.done[entry.id] = via
        return report

    def _unroutable(self, letter: DeadLetter) -> str | None:
        org = split_key(letter.key)[0]
        if letter.stage == "write":
            target = str(letter.record.get("target_org"))
            if all(route.target != target for route in self.settings.sync):
                return f"no configured route writes to {target} any more"
        elif org not in self.settings.orgs:
            return f"org {org} is no longer configured"
        return None

    async def _source_times(
        self,
        entries: Sequence[Entry],
        report: RetryReport,
    ) -> dict[str, str]:
        """Modified_Time now of each write entry's source record, by record key."""
        wanted: dict[tuple[str, str], dict[str, list[str]]] = {}
        for entry in entries:
            org, module, record_id = split_key(entry.letter.key)
            wanted.setdefault((org, module), {}).setdefault(record_id, []).append(entry.id)
        times: dict[str, str] = {}
        for (org, module), ids in wanted.items():
            reader = self.readers.get(org)
            try:
                if reader is None:
                    raise LookupError(f"org {org} is not configured")
                for record in await reader.get_by_ids(module, sorted(ids)):  # 100 per call
                    times[f"{org}/{module}/{record.get('id')}"] = str(
                        record.get("Modified_Time") or ""
                    )
            except (ZohoError, LookupError) as error:
                why = f"cannot read the source record: {error}"
                report.failed.update({i: why for group in ids.values() for i in group})
        return times
