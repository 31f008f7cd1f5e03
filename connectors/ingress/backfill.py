"""Backfill: publish every record of a module (or those modified since a time) as full
``Change`` events straight to the worker's input of records already read (the ``fetched``
topic), with source ``backfill``; ``force`` marks them to be written even when dedup says
the target has them (repairing a target that drifted).

Records are listed oldest ``Modified_Time`` first, one page at a time, and each page
restarts the listing from the last time seen: deep offset paging over a list that shifts
while records are edited could skip a record, a restarted listing cannot. The records of
the boundary second are listed again and skipped by id. Progress (the boundary time, its
ids and the count) is written to a compacted topic after each page is acknowledged, so a
crashed backfill resumes from its last page. Reads use the client's low priority.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.zoho import Priority, ZohoClient
from connectors.zoho.bulk import typed
from orgsync_kernel.events import Change, record_key

from ..kafka import KafkaKV, Producer

log = logging.getLogger(__name__)
KEY_PREFIX = "backfill/"
PAGE = 200  # Zoho's largest page of a records list
MAX_LIST_FIELDS = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Record = dict[str, Any]


@dataclass(frozen=True)
class Progress:
    done: int  # records published so far, this run and the runs it resumes
    total: int | None  # when the caller knows it
    rate: float  # records per second in this run
    finished: bool = False


@dataclass
class _State:
    after: str  # the Modified_Time the next listing starts at
    boundary: list[str]  # ids published whose Modified_Time is `after`
    done: int = 0
    finished: bool = False
    bulk_pages: int = 0  # Bulk Read pages (jobs) published


class Backfill:
    def __init__(
        self,
        client: ZohoClient,
        module: str,
        producer: Producer,
        fetched_topic: str,
        kv: KafkaKV,
        *,
        since: datetime | None = None,
        total: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        clock: Callable[[], float] = time.time,
        force: bool = False,
        bulk: bool = False,
    ) -> None:
        self.client = client
        self.org = client.name
        self.module = module
        self.producer = producer
        self.topic = fetched_topic
        self.kv = kv
        self.since = since or EPOCH
        self.total = total
        self.on_progress = on_progress or (lambda _: None)
        self.clock = clock
        self.force = force
        self.bulk = bulk

    @property
    def key(self) -> str:
        """Where its progress is saved: a forced backfill resumes as one, apart from others."""
        kind = ("/force" if self.force else "") + ("/bulk" if self.bulk else "")
        return f"{KEY_PREFIX}{self.org}/{self.module}/{self.since.isoformat()}{kind}"

    async def run(self, *, restart: bool = False) -> Progress:
        """Publish what is left; ``restart`` forgets the saved progress first."""
        state = None if restart else self._saved()
        state = state or _State(self.since.isoformat(), [])
        started, done_before = time.monotonic(), state.done
        if self.bulk:
            return await self._run_bulk(state, started, done_before)
        fields = await self._list_fields()
        while not state.finished:
            records, exhausted = await self._page(state, fields)
            fresh = [r for r in records if not _seen(state, r)]
            await self._publish(await self._full(fresh, fields))
            _advance(state, records, fresh, exhausted)
            await self.kv.put(self.key, vars(state))
            self.on_progress(self._progress(state, started, done_before))
        return self._progress(state, started, done_before)

    async def _run_bulk(self, state: _State, started: float, before: int) -> Progress:
        """Bulk Read jobs of up to 200,000 records each; progress is saved per job."""
        fields = await self.client.fields(self.module, Priority.LOW)
        kinds = {str(f["api_name"]): str(f.get("data_type") or "text") for f in fields}
        criteria: dict[str, Any] | None = None
        if self.since != EPOCH:
            criteria = {
                "field": {"api_name": "Modified_Time"},
                "comparator": "greater_equal",
                "value": self.since.isoformat(),
            }
        while not state.finished:
            page = await self.client.bulk_read(
                self.module, criteria=criteria, page=state.bulk_pages + 1
            )
            for n in range(0, len(page.rows), PAGE):
                chunk = page.rows[n : n + PAGE]
                rows = [typed(row, kinds) for row in chunk]
                await self._publish(
                    await self.client.complete_rows(self.module, rows, priority=Priority.LOW)
                )
                state.done += len(chunk)
                if n + PAGE < len(page.rows):
                    self.on_progress(self._progress(state, started, before))
            state.bulk_pages += 1
            state.finished = not page.more
            await self.kv.put(self.key, vars(state))
            self.on_progress(self._progress(state, started, before))
        return self._progress(state, started, before)

    def _saved(self) -> _State | None:
        data = self.kv.get(self.key)
        return _State(**data) if isinstance(data, dict) else None

    def _progress(self, state: _State, started: float, before: int) -> Progress:
        elapsed = max(time.monotonic() - started, 1e-9)
        return Progress(state.done, self.total, (state.done - before) / elapsed, state.finished)

    async def _list_fields(self) -> Sequence[str] | None:
        """All fields when one list call can carry them, else None (then fetch by id)."""
        names = await self.client.field_names(self.module, Priority.LOW)
        return names if 0 < len(names) <= MAX_LIST_FIELDS else None

    async def _page(self, state: _State, fields: Sequence[str] | None) -> tuple[list[Record], bool]:
        """A page from ``state.after`` (longer when one second holds more records), and
        whether the listing ended."""
        since = datetime.fromisoformat(state.after)
        wanted = fields or ("Modified_Time",)
        records: list[Record] = []
        async with aclosing(_listing(self.client, self.module, since, wanted)) as listing:
            async for record in listing:
                records.append(record)
                if len(records) >= PAGE and _modified(record) != state.after:
                    return records, False
        return records, True

    async def _full(self, records: list[Record], fields: Sequence[str] | None) -> list[Record]:
        if fields is not None or not records:
            return await self.client.complete_rows(self.module, records, priority=Priority.LOW)
        ids = [str(r.get("id")) for r in records]
        return await self.client.get_by_ids(self.module, ids, priority=Priority.LOW)

    async def _publish(self, records: list[Record]) -> None:
        now = self.clock()
        messages = [
            (
                record_key(self.org, self.module, str(r.get("id"))).encode(),
                Change(
                    org=self.org,
                    module=self.module,
                    id=str(r.get("id")),
                    operation="update",
                    modified_time=r.get("Modified_Time"),
                    record=r,
                    source="backfill",
                    received_at=now,
                    fetched_at=now,
                    force=self.force,
                ).dumps(),
            )
            for r in records
        ]
        if messages:
            await self.producer.send_many(self.topic, messages)


async def _listing(
    client: ZohoClient, module: str, since: datetime, fields: Sequence[str]
) -> AsyncGenerator[Record, None]:
    async for record in client.list_modified_since(module, since, fields, priority=Priority.LOW):
        yield record


def _modified(record: Record) -> str:
    return str(record.get("Modified_Time") or "")


def _seen(state: _State, record: Record) -> bool:
    """Published by the previous page: same boundary second and one of its ids."""
    return _modified(record) == state.after and str(record.get("id")) in state.boundary


def _advance(state: _State, records: list[Record], fresh: list[Record], exhausted: bool) -> None:
    state.done += len(fresh)
    if exhausted:
        state.finished = True
        return
    # The page holds every record of its last second listed so far; the next listing
    # starts at that second and skips these ids.
    state.after = _modified(records[-1])
    state.boundary = [str(r.get("id")) for r in records if _modified(r) == state.after]
