"""Where is my record? Its journey through what Kafka already holds (`orgsync trace`).

Every topic of a record is keyed `org/module/id` and partitioned by Kafka's default
partitioner, so only that key's partition of each topic is read, from its beginning (or from
`since`) to its end as of now, by a consumer that joins no group and commits nothing; only
the messages with the record's key are kept. The one-partition tables `links` and `dlq.state`
are read whole and filtered by the keys that concern the record. The record states (`states`)
are not read: a target's state is updated both by our writes and by observing the target's
own changes, so it cannot date a write.

Stages (`events`, sorted by `at`):

    hint         someone said the record changed (source, operation); at: when received
    change       the record as fetched, logged to `changes` (operation, Modified_Time)
    dedup        per route, the stored fingerprint: `accepted` (new mapped content),
                 `duplicate` (same content, newer Modified_Time: not written) or `stored`
                 (the first version still in the compacted topic: its predecessor is unknown)
    held         waiting in `held` for parents not yet in the target (which ones)
    queued       a write put in the target's queue `writes.<target>`
    related      notes, attachments or tags queued for the record
    written      the target record is linked: the link was recorded after the first
                 successful write (later writes keep the link and leave no trace of their own)
    unlinked     the link was dropped (the target record was deleted)
    dead_letter  a DLQ entry: its id (for `orgsync dlq show|retry`), where it failed, the
                 code and message, and whether it is still open

Not in Kafka, so not traced: drops as an echo or conflict, duplicates within the same
second (they store nothing) and direct writes after the first one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

from connectors.kafka import (
    AIOKafkaConsumer,
    ConsumerRecord,
    KafkaError,
    TopicPartition,
    messages_to_end,
    partition_of,
)
from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable
from orgsync_kernel.events import (
    Change,
    DeadLetter,
    HeldChange,
    Hint,
    RelatedWork,
    Write,
    link_key,
    record_key,
)
from orgsync_kernel.schema import load_compacted
from orgsync_kernel.settings import Route, Settings
from orgsync_operations.dlq import partitions_of

log = logging.getLogger(__name__)
STAGES = (
    "hint",
    "change",
    "dedup",
    "held",
    "queued",
    "related",
    "written",
    "unlinked",
    "dead_letter",
)
READ_SECONDS = 120.0
Event = dict[str, Any]
Message: TypeAlias = "ConsumerRecord[bytes, bytes]"
Decoder = Callable[[bytes, float], Event]  # (value, message time) -> event


def routes_reading(settings: Settings, org: str, module: str) -> list[Route]:
    """The routes that sync `module` from `org`; ValueError naming what is configured."""
    if org not in settings.orgs:
        raise ValueError(f"unknown org {org!r} (orgs: {', '.join(sorted(settings.orgs))})")
    routes = [route for route in settings.routes_from(org) if module in route.modules]
    if not routes:
        known = ", ".join(sorted(settings.synced_modules(org))) or "none"
        raise ValueError(f"no route syncs {module} from {org} (modules it syncs: {known})")
    return routes


# --- one message -> one event (pure) ------------------------------------------------------------


def hint_event(value: bytes, at: float) -> Event:
    hint = Hint.loads(value)
    return {
        "stage": "hint",
        "at": hint.received_at,
        "source": hint.source,
        "operation": hint.operation,
    }


def change_event(value: bytes, at: float) -> Event:
    change = Change.loads(value)
    event = {
        "stage": "change",
        "at": at,
        "source": change.source,
        "operation": change.operation,
        "modified_time": change.modified_time,
    }
    return {**event, "force": True} if change.force else event


def queued_event(value: bytes, at: float) -> Event:
    write = Write.loads(value)
    return {
        "stage": "queued",
        "at": at,
        "route": write.route,
        "target": write.target_org,
        "operation": write.operation,
        "attempt": write.attempt,
    }


def held_event(value: bytes, at: float) -> Event:
    held = HeldChange.loads(value)
    return {"stage": "held", "at": held.held_since, "parents": list(held.parents)}


def related_event(value: bytes, at: float) -> Event:
    work = RelatedWork.loads(value)
    return {"stage": "related", "at": work.queued_at, "route": work.route, "kinds": work.kinds}


def dead_letter_event(value: bytes, at: float) -> Event:
    letter = DeadLetter.loads(value)
    return {
        "stage": "dead_letter",
        "at": letter.failed_at,
        "id": letter.id,
        "route": letter.route,
        "failed_stage": letter.stage,
        "code": letter.code,
        "message": letter.message,
        "attempts": letter.attempts,
        "state": "open",
    }


def dedup_events(versions: Sequence[tuple[float, Mapping[str, Any] | None]]) -> list[Event]:
    """The dedup decisions the fingerprint versions show, route by route (None: a tombstone,
    the record was deleted). The versions after the first one are consecutive (compaction
    keeps only its latest survivor before the uncompacted tail), so comparing neighbours is
    sound; the first one's predecessor is unknown."""
    events: list[Event] = []
    before: dict[str, Any] = {}
    for n, (at, value) in enumerate(versions):
        for route, now in sorted((value or {}).items()):
            previous = before.get(route)
            if previous == now:
                continue  # re-stored unchanged (another route of the record changed)
            if n == 0:
                verdict = "stored"
            elif previous and previous.get("content_hash") == now.get("content_hash"):
                verdict = "duplicate"
            else:
                verdict = "accepted"
            events.append(
                {
                    "stage": "dedup",
                    "at": at,
                    "route": route,
                    "verdict": verdict,
                    "modified_time": now.get("modified_time"),
                    **_dropped(now),
                }
            )
        before = dict(value or {})
    return events


def _dropped(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """Lookups the processor left out of this change (module not synced, user missing), and
    the conflicts it settled ("Phone kept target")."""
    kept = {name: list(fingerprint.get(name) or ()) for name in ("dropped_lookups", "conflicts")}
    return {name: values for name, values in kept.items() if values}


def link_events(
    messages: Sequence[tuple[float, str | None]], route: Route
) -> tuple[list[Event], str | None]:
    """A route's link versions (time, target id or None) as events, and the id it ends on."""
    events: list[Event] = []
    target_id: str | None = None
    for at, value in messages:
        target_id = value
        base = {"at": at, "route": route.name, "target": route.target}
        if value is None:
            events.append({"stage": "unlinked", **base})
        else:
            events.append({"stage": "written", **base, "target_id": value})
    return events, target_id


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def report(key: str, events: Sequence[Event], targets: Mapping[str, str | None]) -> dict[str, Any]:
    """The trace as JSON-ready data: events in time order (stage order within one instant)."""
    ordered = sorted(events, key=lambda e: (e["at"], STAGES.index(e["stage"])))
    return {
        "record": key,
        "events": [{**e, "at": iso(e["at"])} for e in ordered],
        "targets": dict(targets),
    }


def known(trace: Mapping[str, Any]) -> bool:
    """Whether Kafka holds anything at all about the record."""
    return bool(trace["events"]) or any(trace["targets"].values())


# --- reading ------------------------------------------------------------------------------------


async def trace_record(
    settings: Settings, org: str, module: str, record_id: str, since: datetime | None = None
) -> dict[str, Any]:
    """The record's journey (see the module docstring); ValueError for an org or module that
    no route reads, KafkaUnavailable when Kafka cannot be read in time."""
    routes = routes_reading(settings, org, module)
    consumer = KafkaCluster.of(settings.kafka).consumer(
        group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    try:
        async with asyncio.timeout(READ_SECONDS):
            await consumer.start()
            try:
                journey = Journey(consumer, settings, routes, record_key(org, module, record_id))
                return await journey.read(since)
            finally:
                await consumer.stop()
    except (KafkaError, TimeoutError, OSError) as error:
        raise KafkaUnavailable(f"cannot read Kafka: {type(error).__name__}") from None


class Journey:
    """The reads of one trace, on one group-less consumer."""

    def __init__(
        self, consumer: AIOKafkaConsumer, settings: Settings, routes: Sequence[Route], key: str
    ) -> None:
        self.consumer = consumer
        self.cluster = KafkaCluster.of(settings.kafka)
        self.topics = settings.topics
        self.routes = routes
        self.key = key
        self.counts: dict[str, int] = {}  # partitions per existing topic of the trace

    async def read(self, since: datetime | None) -> dict[str, Any]:
        topics = self.topics
        everything = [*self._decoders(), topics.fingerprints, topics.record_links, topics.links]
        for tp in await partitions_of(self.cluster, [*everything, self.topics.dlq_state]):
            self.counts[tp.topic] = self.counts.get(tp.topic, 0) + 1
        since_ms = None if since is None else int(since.timestamp() * 1000)
        events = await self._keyed(since_ms)
        events += await self._dedup(since_ms)
        links, targets = await self._links()
        events += links
        await self._dead_letter_states([e for e in events if e["stage"] == "dead_letter"])
        if since is not None:  # the seek by time is approximate; the links are read whole
            events = [e for e in events if e["at"] >= since.timestamp()]
        return report(self.key, events, targets)

    def _decoders(self) -> dict[str, Decoder]:
        topics = self.topics
        decoders: dict[str, Decoder] = {
            topics.hints: hint_event,
            topics.changes: change_event,
            topics.held: held_event,
            topics.related: related_event,
            topics.dlq: dead_letter_event,
        }
        return decoders | {topics.writes(route.target): queued_event for route in self.routes}

    async def _keyed(self, since_ms: int | None) -> list[Event]:
        decoders = self._decoders()
        events: list[Event] = []
        async for message in self._scan(self._partitions(decoders), {self.key}, since_ms):
            try:
                events.append(decoders[message.topic](message.value, message.timestamp / 1000))
            except (ValueError, TypeError, KeyError) as error:
                log.warning("trace: skipped a message of %s: %s", message.topic, error)
        return events

    async def _dedup(self, since_ms: int | None) -> list[Event]:
        versions: list[tuple[float, Mapping[str, Any] | None]] = []
        tps = self._partitions([self.topics.fingerprints])
        async for message in self._scan(tps, {self.key}, since_ms):
            value = _json(message)
            if isinstance(value, dict) or message.value is None:
                versions.append((message.timestamp / 1000, value))
        return dedup_events(versions)

    async def _links(self) -> tuple[list[Event], dict[str, str | None]]:
        org, module, record_id = self.key.split("/", 2)
        keys = {link_key(org, module, record_id, route.target): route for route in self.routes}
        # a record's links are in its partition of record-links, or (a release before) in the
        # one partition of links
        local = await self._link_versions(self._partitions([self.topics.record_links]), keys)
        shared = await self._link_versions(self._single(self.topics.links), keys)
        for key, versions in local.items():  # moved: the tombstone left behind is no unlink
            shared[key] = [(at, v) for at, v in shared[key] if v is not None or not versions]
        found = {key: _distinct(local[key] + shared[key]) for key in keys}
        events: list[Event] = []
        targets: dict[str, str | None] = {}
        for key, route in keys.items():
            linked, targets[route.target] = link_events(found[key], route)
            events += linked
        return events, targets

    async def _link_versions(
        self, tps: list[TopicPartition], keys: Collection[str]
    ) -> dict[str, list[tuple[float, str | None]]]:
        found: dict[str, list[tuple[float, str | None]]] = {key: [] for key in keys}
        async for message in self._scan(tps, keys, None):
            value = _json(message)
            if value is None and message.value is not None:
                continue  # not JSON (logged)
            found[message.key.decode()].append((message.timestamp / 1000, _id_or_none(value)))
        return found

    async def _dead_letter_states(self, letters: list[Event]) -> None:
        by_id = {event["id"]: event for event in letters}
        async for message in self._scan(self._single(self.topics.dlq_state), by_id, None):
            value = _json(message)
            state = value.get("state") if isinstance(value, dict) else None
            by_id[message.key.decode()]["state"] = state or "open"

    def _partitions(self, topics: Collection[str]) -> list[TopicPartition]:
        """The record's partition of each existing topic."""
        return [
            TopicPartition(topic, partition_of(self.key, self.counts[topic]))
            for topic in sorted(set(topics) & set(self.counts))
        ]

    def _single(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, 0)] if topic in self.counts else []

    async def _scan(
        self, tps: list[TopicPartition], keys: Collection[str], since_ms: int | None
    ) -> AsyncIterator[Message]:
        """The messages of `tps` whose key is one of `keys`, from the start or `since_ms`."""
        if not tps or not keys:
            return
        wanted = {key.encode() for key in keys}
        self.consumer.assign(tps)
        if since_ms is None:
            await self.consumer.seek_to_beginning(*tps)
        else:
            await self._seek_to_time(tps, since_ms)
        async for message in messages_to_end(self.consumer, tps):
            if message.key in wanted:
                yield message

    async def _seek_to_time(self, tps: list[TopicPartition], since_ms: int) -> None:
        found = await self.consumer.offsets_for_times({tp: since_ms for tp in tps})
        ends = await self.consumer.end_offsets(tps)
        for tp in tps:
            at = found.get(tp)
            self.consumer.seek(tp, at.offset if at is not None else ends[tp])


def _distinct(versions: list[tuple[float, str | None]]) -> list[tuple[float, str | None]]:
    """In time order, each value once in a row (a link published to every worker is the same
    link written again)."""
    out: list[tuple[float, str | None]] = []
    for version in sorted(versions, key=lambda v: v[0]):
        if not out or out[-1][1] != version[1]:
            out.append(version)
    return out


def _json(message: Message) -> Any:
    if message.value is None:
        return None
    try:
        return load_compacted(message.topic, message.value, message.headers)
    except ValueError as error:  # not JSON, or SchemaTooNew
        log.warning("trace: skipped a value of %s: %s", message.topic, error)
        return None


def _id_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
