"""Reconciliation poller: push paths are not guaranteed, so every source org/module is
listed on an interval for records modified (and deleted) since a cursor.

The cursor is the newest ``Modified_Time`` (``deleted_time``) seen, kept in a compacted
topic and advanced only after the hints were acknowledged, so a restart resumes where the
last acknowledged hint left it. Each poll starts ``overlap_seconds`` before the cursor to
absorb clock skew and late visibility; the repeats are harmless (dedup downstream).
Calls use the client's low priority, so polling stops at the credit reserve.

Any number of changes (issue 26): the listing goes in windows past the 100,000 records one
records listing reaches (`listing.changed_since`), and the cursor is saved every
``CHECKPOINT`` records listed (`_Walk`), so a burst moves it as it goes. What the ingress
answered 503 (`Refusals`) is produced at the next poll of its org and module (and at each
cursor save), which lists from before the earliest refusal whose hints were not all held;
with a journal, both survive a restart of the ingress until they are done.

The overlap is kept without its cost: the poller remembers what the last listing of each
org/module hinted (id and ``Modified_Time``, `Recent`), and the next listing hints only what is
new or changed, so a quiet org costs one listing per module and interval and nothing
downstream (no record read, no related items read). A record late to appear in the listing
still shows up inside the overlap, unseen, and is hinted. Deleted records are listed only for
modules some route syncs deletes of (``delete: true``). After a restart the memory is empty and
the overlap is hinted once, as before.

A note changes nothing of its parent record, not even its ``Modified_Time``: for an org whose
routes sync notes, the ``Notes`` module is polled too, and a note modified since the cursor
hints its parent (``Parent_Id``) with the source ``related``, so that the parent's related
items are synced although the parent did not change. Deleted notes name no parent; they are
seen with the parent's next related action (the notification) or change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

from connectors.zoho import ZohoClient, ZohoError
from connectors.zoho.records import PER_PAGE
from orgsync_kernel.events import RELATED_SOURCE, Hint, record_key
from orgsync_kernel.settings import PollerSettings

from ..kafka import KafkaKV, KafkaUnavailable, Message, Producer
from .listing import DeletedSince, Record, changed_since
from .metrics import IngressMetrics
from .recent import Recent
from .refusals import Refusals

log = logging.getLogger(__name__)
KEY_PREFIX = "poll/"
BATCH = 500  # hints per produce call
CHECKPOINT = 2000  # records listed between two saves of the cursor
PASSES = 2  # listings of one poll, when records move while they are listed
LIST_FIELDS = ("Modified_Time", "Created_Time")
NOTES = "Notes"
NOTE_FIELDS = ("Modified_Time", "Parent_Id")


class Poller:
    def __init__(
        self,
        settings: PollerSettings,
        watched: Mapping[str, frozenset[str]],
        hints_topic: str,
        clients: Mapping[str, ZohoClient],
        kv: KafkaKV,
        producer: Producer,
        metrics: IngressMetrics,
        *,
        clock: Callable[[], float] = time.time,
        notes_parents: Mapping[str, frozenset[str]] | None = None,
        deletes: Mapping[str, frozenset[str]] | None = None,
        refusals: Refusals | None = None,
    ) -> None:
        self.watched = watched
        self.refusals = refusals if refusals is not None else Refusals()
        self.notes_parents = notes_parents or {}
        self.deletes = deletes if deletes is not None else watched
        self._recent: dict[tuple[str, str, str], dict[str, str]] = {}
        self._rewinds: dict[tuple[str, str], datetime] = {}
        self.hints_topic = hints_topic
        self.clients = clients
        self.kv = kv
        self.producer = producer
        self.metrics = metrics
        self.clock = clock
        self.interval = settings.interval_seconds
        self.overlap = timedelta(seconds=settings.overlap_seconds)
        self._tasks: list[asyncio.Task[None]] = []

    def pairs(self) -> list[tuple[str, str]]:
        return [
            (org, module)
            for org in sorted(self.clients)
            for module in sorted(self.watched.get(org, ()))
        ] + [(org, NOTES) for org in sorted(self.clients) if self.notes_parents.get(org)]

    async def start(self) -> None:
        for org, module in self.pairs():
            await self._cursor(org, module)  # the first cursor is "now", kept from the start
            self._tasks.append(
                asyncio.create_task(self._run(org, module), name=f"orgsync-poll-{org}-{module}")
            )

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, org: str, module: str) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll_once(org, module)
            except (ZohoError, KafkaUnavailable) as error:
                self.metrics.poll_errors.labels(org).inc()
                log.warning("poller: org=%s module=%s failed: %s", org, module, error)

    async def poll_once(self, org: str, module: str) -> int:
        """Produce what the ingress refused, list, produce, then advance the cursor (also as
        the listing goes); returns the number of hints."""
        cursor = await self._cursor(org, module)
        floor = self._floor(org, module)
        try:
            refused = await self._drain(org, module)
            since = self._since(cursor["modified"], floor)
            if module == NOTES:
                modified, changed = await self._notes(org, cursor["modified"], since)
            else:
                modified, changed = await self._modified(org, module, cursor["modified"], since)
            deleted, gone = cursor["deleted"], 0
            if module in self.deletes.get(org, ()):  # deletes are read where a route syncs them
                if modified != cursor["modified"]:  # kept if the deleted listing fails
                    await self._save(org, module, modified=modified)
                deleted, gone = await self._deleted(org, module, cursor["deleted"])
        except BaseException:
            if floor is not None:
                self.rewind(org, module, floor)  # listed from there next time
            raise
        await self._save(org, module, modified=modified, deleted=deleted)
        self.refusals.settle(org, module, confirmed=True)  # listed from before what was lost
        self.metrics.polled_at.labels(org).set(self.clock())
        if changed or gone or refused:
            log.info(
                "poller: org=%s module=%s changed=%d deleted=%d refused=%d",
                *(org, module, changed, gone, refused),
            )
        return changed + gone + refused

    async def _cursor(self, org: str, module: str) -> dict[str, str]:
        stored = self.kv.get(_key(org, module))
        if isinstance(stored, dict) and {"modified", "deleted"} <= stored.keys():
            return {"modified": str(stored["modified"]), "deleted": str(stored["deleted"])}
        now = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="seconds")
        cursor = {"modified": now, "deleted": now}
        await self.kv.put(_key(org, module), cursor)
        return cursor

    async def _save(self, org: str, module: str, **moved: str) -> None:
        key = _key(org, module)
        stored = self.kv.get(key)
        await self.kv.put(key, {**(stored if isinstance(stored, dict) else {}), **moved})

    def _since(self, cursor: str, floor: datetime | None) -> datetime:
        """Where a listing starts: the overlap before the cursor or before the floor,
        whichever is earlier."""
        start = datetime.fromisoformat(cursor)
        return (min(start, floor) if floor is not None else start) - self.overlap

    def rewind(self, org: str, module: str, moment: datetime) -> None:
        """Make the next poll of this org and module list from before ``moment``."""
        key = (org, module)
        self._rewinds[key] = min(moment, self._rewinds.get(key, moment))

    def _floor(self, org: str, module: str) -> datetime | None:
        """How far back the next listing must reach, once: before a refusal whose hints the
        ingress could not hold, before records that moved while a listing read them."""
        lost = self.refusals.lost_since(org, module)
        floors = [self._rewinds.pop((org, module), None)]
        floors.append(datetime.fromtimestamp(lost, UTC) if lost is not None else None)
        return min((f for f in floors if f is not None), default=None)

    async def _drain(self, org: str, module: str) -> int:
        """Produce the hints the ingress refused for this org and module; how many."""
        messages = self.refusals.take(org, module)
        try:
            for n in range(0, len(messages), BATCH):
                chunk = messages[n : n + BATCH]
                await self.producer.send_many(self.hints_topic, chunk)
                self.metrics.hints.labels(org, "refused").inc(len(chunk))
        except BaseException:
            self.refusals.give_back(org, module, messages)  # produced again next time
            raise
        if messages:
            self.refusals.settle(org, module)  # a restart from now on does not need them
        return len(messages)

    async def _modified(
        self, org: str, module: str, cursor: str, since: datetime
    ) -> tuple[str, int]:
        walk = _Walk(self, org, module, cursor, "modified")
        async for record in walk.records(since, LIST_FIELDS):
            if walk.fresh(record):
                created = record.get("Created_Time") == record.get("Modified_Time")
                operation = "insert" if created else "update"
                await walk.add(module, str(record.get("id")), operation, _modified(record))
        return walk.newest, await walk.done()

    async def _notes(self, org: str, cursor: str, since: datetime) -> tuple[str, int]:
        """Hints of the parents of notes modified since the cursor (in synced modules)."""
        walk = _Walk(self, org, NOTES, cursor, "", RELATED_SOURCE)
        parents = self.notes_parents.get(org, frozenset())
        async for note in walk.records(since, NOTE_FIELDS):
            parent = note.get("Parent_Id") or {}
            module = (
                (parent.get("module") or {}).get("api_name") if isinstance(parent, dict) else None
            )
            if walk.fresh(note) and module in parents and parent.get("id"):
                await walk.add(str(module), str(parent["id"]), "update", _modified(note))
        return walk.newest, await walk.done()

    async def _deleted(self, org: str, module: str, cursor: str) -> tuple[str, int]:
        since = datetime.fromisoformat(cursor) - self.overlap
        batch, newest = _Batch(self, org), cursor
        recent = self._recent_of(org, module, "deleted")
        listing = DeletedSince(self.clients[org], module)
        async with aclosing(listing.since(since)) as deletions:
            async for gone in deletions:
                newest = _later(newest, gone.deleted_time)
                if recent.fresh(gone.id, gone.deleted_time):
                    await batch.add(module, gone.id, "delete", gone.deleted_time)
        self._unreached(org, module, listing)
        return newest, await self._done(batch, recent, newest)

    def _unreached(self, org: str, module: str, listing: DeletedSince) -> None:
        if listing.unreached:
            self.metrics.deletions_unreached.labels(org).inc()
            log.warning(
                "poller: org=%s module=%s: /deleted refused a page at its cap; deletions"
                " older than those listed are out of reach, the cursor moves on",
                *(org, module),
            )

    def _recent_of(self, org: str, module: str, kind: str) -> Recent:
        return Recent(self._recent.get((org, module, kind), {}), (org, module, kind))

    async def _done(self, batch: _Batch, recent: Recent, newest: str) -> int:
        """Produce the rest of the hints, then remember the listing; the number of hints."""
        await batch.flush()
        self._recent[recent.key] = recent.settled(newest, self.overlap)
        return batch.count


class _Walk:
    """One listing of changed records in a poll: the newest time seen, the hints produced
    ``BATCH`` at a time, and every ``CHECKPOINT`` records listed the cursor saved where the
    listing got to, once the hints before it were acknowledged: a listing of any length
    moves the cursor as it goes, and one that fails half-way resumes from there. The hints
    the ingress refused meanwhile are produced then too, so a long listing does not hold
    them back past an interval."""

    def __init__(
        self, poller: Poller, org: str, module: str, cursor: str, kind: str, source: str = "poll"
    ) -> None:
        self.poller, self.org, self.module, self.newest = poller, org, module, cursor
        self.batch = _Batch(poller, org, source)
        self.recent = poller._recent_of(org, module, kind)
        self.listed = 0  # by this poll
        self.paged = 0  # by its current listing

    async def records(self, since: datetime, fields: Sequence[str]) -> AsyncIterator[Record]:
        """The records changed since ``since``; listed again from where a record that moved
        or was deleted while being listed was first seen (up to ``PASSES`` listings, then
        the next poll)."""
        start = since
        for _ in range(PASSES):
            self.paged = 0
            async with aclosing(self._listing(start, fields)) as listing:
                async for record in listing:
                    yield record
            moved = _earliest(self.recent.moved_since(), await self._left_since(start))
            if moved is None:
                return
            start = moved
        self.poller.rewind(self.org, self.module, start)

    async def _left_since(self, start: datetime) -> datetime | None:
        """Where to list again for records this poll listed and that were deleted since: only
        a listing of more than one page can have lost one (a quiet poll costs no more), and
        only where Zoho lists deletions (not notes)."""
        if self.paged <= PER_PAGE or self.module == NOTES:
            return None
        listing = DeletedSince(self.poller.clients[self.org], self.module)
        async with aclosing(listing.since(start)) as deletions:
            deleted = [gone.id async for gone in deletions]
        self.poller._unreached(self.org, self.module, listing)
        return self.recent.left_since(deleted)

    async def _listing(
        self, since: datetime, fields: Sequence[str]
    ) -> AsyncGenerator[Record, None]:
        client = self.poller.clients[self.org]
        async with aclosing(changed_since(client, self.module, since, fields)) as listing:
            async for record in listing:
                self.newest = _later(self.newest, _modified(record))
                yield record
                self.listed += 1
                self.paged += 1
                if self.listed % CHECKPOINT == 0:
                    await self.batch.flush()
                    await self.poller._save(self.org, self.module, modified=self.newest)
                    await self.poller._drain(self.org, self.module)  # refused meanwhile

    def fresh(self, record: Record) -> bool:
        return self.recent.fresh(str(record.get("id")), _modified(record))

    async def add(self, module: str, record_id: str, operation: str, when: str) -> None:
        await self.batch.add(module, record_id, operation, when or None)

    async def done(self) -> int:
        return await self.poller._done(self.batch, self.recent, self.newest)


class _Batch:
    """Hints of one poll, produced ``BATCH`` at a time."""

    def __init__(self, poller: Poller, org: str, source: str = "poll") -> None:
        self.poller, self.org, self.source = poller, org, source
        self.messages: list[Message] = []
        self.count = 0

    async def add(self, module: str, record_id: str, operation: str, when: str | None) -> None:
        hint = Hint(
            org=self.org,
            module=module,
            id=record_id,
            operation=operation,
            source=self.source,
            received_at=self.poller.clock(),
            event_time=when,
        )
        self.messages.append((record_key(self.org, module, record_id).encode(), hint.dumps()))
        self.count += 1
        if len(self.messages) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self.messages:
            poller = self.poller
            await poller.producer.send_many(poller.hints_topic, self.messages)
            poller.metrics.hints.labels(self.org, self.source).inc(len(self.messages))
            self.messages = []


def _key(org: str, module: str) -> str:
    return f"{KEY_PREFIX}{org}/{module}"


def _modified(record: Record) -> str:
    return str(record.get("Modified_Time") or "")


def _earliest(*moments: datetime | None) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def _later(current: str, candidate: str) -> str:
    """The later of two ISO-8601 times; an unreadable candidate never moves the cursor."""
    try:
        return (
            candidate
            if datetime.fromisoformat(candidate) > datetime.fromisoformat(current)
            else current
        )
    except ValueError:
        return current
