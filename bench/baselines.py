"""What people do today, on the same emulator, latency and limits as orgsync.

Both baselines are driven by the source org's write log: each entry is what a workflow rule
would fire on (record create/edit), and the record's merge fields come from the workload's
``RecordBook`` at no API cost, as Zoho hands them to the function.

* seed-literal — the Deluge script of the seed, per create event: refresh an access token
  (POST /oauth/v2/token, grant_type=refresh_token), then POST the one record to
  /crm/v7/Leads. The 11th refresh in 10 minutes is refused; from then on every event fails
  until the window rolls, so the run stops at the cut-off and reports how far it got.
  The seed's workflow fires on creation only, so updates are never synced.
* per-record — a per-record connector: a cached token (one refresh, single flight), one upsert
  POST per change (matched on Origin_Record_Id, so updates land too), as many in flight as
  the workflow concurrency allows (``--per-record-concurrency``; default: the edition's API
  concurrency, see docs/benchmarks.md), 429s retried with a short backoff.

Each event carries the record as the write that fired it left it (the n-th log entry of a
record is its n-th write), not a later version.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .api import Caller, Response, TokenDenied, written_ids
from .processes import Admin
from .scenario import MATCH_FIELD
from .workloads import RecordBook

Event = dict[str, Any]


@dataclass
class BaselineRun:
    name: str
    synced: int = 0
    failed: int = 0
    events: int = 0
    target_of: dict[str, str] = field(default_factory=dict)  # target id -> source id
    carried: dict[str, list[int]] = field(default_factory=dict)  # source id -> versions written
    cut_off_at: float | None = None  # epoch seconds of the refused refresh


class LogFeed:
    """Tails the source org's write log (what workflows fire on), in write order."""

    def __init__(self, admin: Admin, org: str, client_id: str, poll_s: float = 0.02) -> None:
        self.admin = admin
        self.org = org
        self.client_id = client_id
        self.poll_s = poll_s

    async def events(self, finished: asyncio.Event) -> AsyncIterator[Event]:
        """Every entry of the workload's client until ``finished`` is set and the log is drained.

        Entries are appended in time order; those at the boundary millisecond that were already
        seen come first again in the next answer and are skipped by count.
        """
        since, seen_at_since = 0, 0
        while True:
            last_round = finished.is_set()
            entries = await self.admin.log(self.org, since)
            fresh = _after(entries, since, seen_at_since)
            if fresh:
                newest = fresh[-1]["at_ms"]
                at_newest = sum(1 for e in fresh if e["at_ms"] == newest)
                seen_at_since = at_newest + (seen_at_since if newest == since else 0)
                since = newest
            for entry in fresh:
                if entry["client_id"] == self.client_id:
                    yield entry
            if last_round and not fresh:
                return
            if not fresh:
                await asyncio.sleep(self.poll_s)


def _after(entries: list[Event], since: int, skip: int) -> list[Event]:
    skipped = 0
    for i, entry in enumerate(entries):
        if entry["at_ms"] != since or skipped == skip:
            return entries[i:]
        skipped += 1
    return []


Handler = Callable[[Event], Awaitable[None]]


async def _pump(
    feed: LogFeed, finished: asyncio.Event, concurrency: int, handle: Handler, run: BaselineRun
) -> None:
    """Hands each event to one of ``concurrency`` workers, as concurrent workflow executions."""
    queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=concurrency * 4)
    writes_seen: dict[str, int] = {}

    async def worker() -> None:
        while (event := await queue.get()) is not None:
            await handle(event)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        async for event in feed.events(finished):
            run.events += 1
            if run.cut_off_at is not None:
                break
            nth = writes_seen.get(event["id"], 0)  # this is the record's nth write
            writes_seen[event["id"]] = nth + 1
            await queue.put({**event, "nth": nth})
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*workers, return_exceptions=True)


def _record(run: BaselineRun, event: Event, response: Response) -> None:
    ids = written_ids(response)
    if ids and ids[0]:
        run.synced += 1
        run.target_of[ids[0]] = event["id"]
        run.carried.setdefault(event["id"], []).append(event["nth"])
    else:
        run.failed += 1


async def seed_literal(
    feed: LogFeed, finished: asyncio.Event, book: RecordBook, target: Caller, concurrency: int
) -> BaselineRun:
    run = BaselineRun("seed-literal")

    async def handle(event: Event) -> None:
        if event["op"] != "insert" or run.cut_off_at is not None:
            return
        record = await book.version(event["id"], event["nth"])
        try:
            token = await target.refresh()
        except TokenDenied:
            run.cut_off_at = run.cut_off_at or time.time()
            return
        body = {"data": [{"Last_Name": record["Last_Name"]}]}
        _record(run, event, await target.call("POST", "/Leads", body=body, token=token))

    await _pump(feed, finished, concurrency, handle, run)
    return run


async def per_record(
    feed: LogFeed,
    finished: asyncio.Event,
    book: RecordBook,
    target: Caller,
    concurrency: int,
    fields: tuple[str, ...],
) -> BaselineRun:
    run = BaselineRun("per-record")

    async def handle(event: Event) -> None:
        if event["op"] == "delete":
            return
        record = await book.version(event["id"], event["nth"])
        row = {name: record[name] for name in fields if name in record}
        body = {
            "data": [{**row, MATCH_FIELD: event["id"]}],
            "duplicate_check_fields": [MATCH_FIELD],
            "trigger": [],
        }
        _record(run, event, await target.call_retrying("POST", "/Leads/upsert", body=body))

    await _pump(feed, finished, concurrency, handle, run)
    return run
