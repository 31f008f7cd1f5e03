"""Changes made in the source org: burst (100-record inserts, then updates) and trickle.

The workload has its own OAuth client; what it spends (credits, 429s) is subtracted from the
source org's totals. ``RecordBook`` keeps every version it wrote, so a baseline can hand the
workflow fired by a write that write's merge fields, as Zoho does (no API call), and the
observer can check that the target holds each record's last version.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .api import Caller, written_ids


class RecordBook:
    """Source id -> every version written, in write order; waiters for writes in flight."""

    def __init__(self) -> None:
        self.history: dict[str, list[dict[str, Any]]] = {}
        self._waiters: dict[str, asyncio.Event] = {}

    def put(self, record_id: str, record: dict[str, Any]) -> None:
        self.history.setdefault(record_id, []).append(record)
        waiter = self._waiters.pop(record_id, None)
        if waiter is not None:
            waiter.set()

    def latest(self, record_id: str) -> dict[str, Any]:
        return self.history[record_id][-1]

    async def version(self, record_id: str, nth: int, within: float = 30.0) -> dict[str, Any]:
        """The record as its ``nth`` write (0-based) left it, once the workload has seen it."""
        async with asyncio.timeout(within):
            while len(self.history.get(record_id, ())) <= nth:
                await self._waiters.setdefault(record_id, asyncio.Event()).wait()
        return self.history[record_id][nth]

    def versions(self) -> dict[str, str]:
        """Source id -> the Description (version marker) the target must end up with."""
        return {rid: str(found[-1]["Description"]) for rid, found in self.history.items()}


@dataclass
class WorkloadRun:
    kind: str
    batch_sizes: list[int] = field(default_factory=list)
    failed: int = 0
    started: float = 0.0
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        return sum(self.batch_sizes)


def new_lead(n: int, run: str) -> dict[str, Any]:
    return {
        "Last_Name": f"Bench {n}",
        "First_Name": "Load",
        "Company": f"Company {n % 97}",
        "Email": f"lead{n}.{run}@bench.example",
        "Description": f"{run} v1",
    }


def bump(record: dict[str, Any], run: str) -> dict[str, Any]:
    """The next version of a record: a new version marker and a changed company."""
    version = int(str(record["Description"]).rsplit("v", 1)[1]) + 1
    return {**record, "Description": f"{run} v{version}", "Company": f"Company {version}"}


class Workload:
    def __init__(self, caller: Caller, book: RecordBook, run: str) -> None:
        self.caller = caller
        self.book = book
        self.run = run
        self._next = 0
        self.log = WorkloadRun("none")  # the current run; partial when it was cancelled

    async def _insert(self, rows: list[dict[str, Any]], log: WorkloadRun) -> list[str]:
        found = await self.caller.call_retrying("POST", "/Leads", body={"data": rows})
        log.batch_sizes.append(len(rows))
        ids = written_ids(found)
        for rid, row in zip(ids, rows, strict=False):
            if rid is not None:
                self.book.put(rid, row)
        log.failed += len(rows) - sum(1 for rid in ids if rid)
        return [rid for rid in ids if rid]

    async def _update(self, ids: list[str], log: WorkloadRun) -> None:
        rows = {rid: bump(self.book.latest(rid), self.run) for rid in ids}
        body = {
            "data": [
                {"id": rid, "Description": r["Description"], "Company": r["Company"]}
                for rid, r in rows.items()
            ]
        }
        found = await self.caller.call_retrying("PUT", "/Leads", body=body)
        log.batch_sizes.append(len(ids))
        done = [rid for rid in written_ids(found) if rid]
        for rid in done:
            self.book.put(rid, rows[rid])
        log.failed += len(ids) - len(done)

    def _rows(self, count: int) -> list[dict[str, Any]]:
        start, self._next = self._next, self._next + count
        return [new_lead(n, self.run) for n in range(start, start + count)]

    async def burst(self, records: int, batch: int = 100, concurrency: int = 10) -> WorkloadRun:
        """``records`` creates in ``batch``-record inserts, then one update of each record."""
        log = self.log = WorkloadRun("burst", started=time.time())
        gate = asyncio.Semaphore(concurrency)

        async def gated(job: Callable[[], Awaitable[Any]]) -> Any:
            async with gate:  # the coroutine is made inside, so a cancelled run leaves none
                return await job()

        sizes = [min(batch, records - i) for i in range(0, records, batch)]
        created = await asyncio.gather(
            *(gated(partial(self._insert, self._rows(n), log)) for n in sizes)
        )
        ids = [rid for chunk in created for rid in chunk]
        await asyncio.gather(
            *(
                gated(partial(self._update, ids[i : i + batch], log))
                for i in range(0, len(ids), batch)
            )
        )
        log.seconds = time.time() - log.started
        return log

    async def trickle(self, rate: float, seconds: float) -> WorkloadRun:
        """``rate`` single-record changes per second: creates, and every other one an update."""
        log = self.log = WorkloadRun("trickle", started=time.time())
        created: list[str] = []
        busy: set[str] = set()  # never two updates of one record in flight (versions stay exact)
        rng = random.Random(9)
        tasks: list[asyncio.Task[Any]] = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            idle = [rid for rid in created[-200:] if rid not in busy]
            if i % 2 and idle:
                job: Any = self._update_one(rng.choice(idle), busy, log)
            else:
                job = self._create_one(created, log)
            tasks.append(asyncio.create_task(job))
        await asyncio.gather(*tasks)
        log.seconds = time.time() - log.started
        return log

    async def _create_one(self, created: list[str], log: WorkloadRun) -> None:
        created += await self._insert(self._rows(1), log)

    async def _update_one(self, record_id: str, busy: set[str], log: WorkloadRun) -> None:
        busy.add(record_id)
        try:
            await self._update([record_id], log)
        finally:
            busy.discard(record_id)
