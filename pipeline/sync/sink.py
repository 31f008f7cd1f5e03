"""The sink of one target org: batched writes, retries, dead letters.

A record orgsync knows in the target (a link, `Write.target_id`) is updated by id; the others
are upserted on the match field (created, or found by it).

`TargetSink.apply(writes)` writes one batch taken from the target's writes topic and returns
only when every write has an outcome: written (the links and the record state are updated) or
dead-lettered (returned as `DeadLetter`s for the agent to produce). Transient failures retry
the same records with backoff before anything else is taken (a throttle pushes back; nothing is
acknowledged until written or dead-lettered); per-record order holds because writes of one
record are merged or sent in rounds, in the order they were taken.

The sink owns the retries of its writes: one budget (`sink.max_attempts` HTTP attempts per
group) covers failed calls and records Zoho answered with a retryable code alike, so the
client makes a single attempt per call (`SINGLE_ATTEMPT`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Protocol

from connectors.zoho import (
    SINGLE_ATTEMPT,
    BackoffPolicy,
    RetryableError,
    WriteOutcome,
    ZohoError,
)
from orgsync_kernel.events import (
    DeadLetter,
    Write,
    dead_letter,
    link_key,
    parse_instant,
    record_key,
)
from orgsync_kernel.settings import Route, SinkSettings
from pipeline.mapping import subform_rows as row_links
from pipeline.mapping.subform_rows import outgoing, removal, rows_key, settle, subforms
from pipeline.sync.binding import Resolution, find_existing
from pipeline.sync.metrics import PipelineMetrics
from pipeline.sync.write_outcomes import (
    Failure,
    already_deleted,
    failure,
    gone,
    groups,
    merge_rounds,
    recreated,
)

log = logging.getLogger(__name__)


class StateBook(Protocol):
    """Where the sink records what it wrote into a target record's state (two-way targets):
    pipeline/worker/tables.py `RecordStates`, which sends it to the record's worker when the
    record's partition is another's."""

    def wrote(self, write: Write, target_id: str, modified: str | None) -> None: ...

    def forget(self, key: str) -> None: ...


class TargetClient(Protocol):
    async def upsert(
        self,
        module: str,
        records: Sequence[dict[str, Any]],
        duplicate_check_fields: Sequence[str] | None = None,
        trigger: Sequence[str] | None = None,
        *,
        retry: BackoffPolicy | None = None,
    ) -> list[WriteOutcome]: ...

    async def update(
        self,
        module: str,
        records: Sequence[dict[str, Any]],
        trigger: Sequence[str] | None = None,
        *,
        retry: BackoffPolicy | None = None,
    ) -> list[WriteOutcome]: ...

    async def query(
        self, select: str, *, limit: int, offset: int = 0, retry: BackoffPolicy | None = None
    ) -> tuple[list[dict[str, Any]], bool]: ...

    async def get_record(
        self, module: str, record_id: str, *, retry: BackoffPolicy | None = None
    ) -> dict[str, Any] | None: ...

    async def delete(
        self,
        module: str,
        ids: Sequence[str],
        *,
        wf_trigger: bool | None = None,
        retry: BackoffPolicy | None = None,
    ) -> list[WriteOutcome]: ...


class Deferred(Exception):
    """A direct write (`apply(..., direct=True)`) met a transient failure: queue it instead."""


class TargetSink:
    def __init__(
        self,
        org: str,
        client: TargetClient,
        routes: Mapping[str, Route],
        settings: SinkSettings,
        links: MutableMapping[str, str],
        states: StateBook,
        metrics: PipelineMetrics,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        routed_back: bool = True,
    ) -> None:
        self.org = org
        # Only a target that is also a source reads the reverse links and the states of its
        # records (echoes, conflicts); for the others each table write would be dead weight.
        self.routed_back = routed_back
        self.client = client
        self.routes = routes
        self.settings = settings
        self.links = links
        self.states = states
        self.metrics = metrics
        self._counters: dict[tuple[str, str], Any] = {}
        self._latency = metrics.e2e_latency.labels(target=org)
        self._sleep = sleep
        self._backoff = BackoffPolicy(
            max_attempts=settings.max_attempts,
            base=settings.backoff_initial_ms / 1000,
            cap=settings.backoff_max_ms / 1000,
        )

    async def apply(self, writes: Sequence[Write], *, direct: bool = False) -> list[DeadLetter]:
        """Write `writes` in order; `direct`: one attempt, and `Deferred` on a transient
        failure instead of waiting to retry (the caller queues them)."""
        dead: list[DeadLetter] = []
        size = self.settings.batch_size
        for round_ in merge_rounds(writes):
            calls = [
                group[i : i + size]
                for group in groups(round_, self.routes).values()
                for i in range(0, len(group), size)
            ]
            # A record stands once per round: its calls are independent, the client's
            # concurrency limit bounds how many are in flight.
            try:
                async with asyncio.TaskGroup() as tasks:
                    running = [tasks.create_task(self._write_group(c, direct)) for c in calls]
            except* Deferred as deferred:
                raise deferred.exceptions[0] from None
            dead += [letter for task in running for letter in task.result()]
        return dead

    async def _write_group(self, group: list[Write], direct: bool = False) -> list[DeadLetter]:
        """One batch: records that exist in the target are bound first (`link_existing`),
        the others upserted on the match field."""
        try:
            resolution = await self._resolve(group, direct)
        except ZohoError as error:
            attempts = self.settings.max_attempts
            return [self._dead(w, failure(error), attempts) for w in group]
        dead = [self._ambiguous(write, ids) for write, ids in resolution.ambiguous]
        if resolution.binds:
            dead += await self._send(resolution.binds, direct, self._call)  # updates by id
        if resolution.upserts:
            dead += await self._send(resolution.upserts, direct, self._call)
        return dead

    async def _resolve(self, group: list[Write], direct: bool) -> Resolution:
        first = group[0]
        mapping = self.routes[first.route].modules[first.source_module]
        attempt = 0
        while True:
            attempt += 1
            try:
                return await find_existing(self.client, first.target_module, group, mapping)
            except RetryableError as error:
                if direct:
                    raise Deferred(error.zoho_code) from None
                if attempt >= self.settings.max_attempts:
                    raise
                await self._wait(attempt, error, len(group))

    async def _send(
        self,
        group: list[Write],
        direct: bool,
        call: Callable[[list[Write]], Awaitable[list[WriteOutcome]]],
    ) -> list[DeadLetter]:
        pending, attempt = list(group), 0
        dead: list[DeadLetter] = []
        while pending:
            attempt += 1
            try:
                outcomes = await call(pending)
            except RetryableError as error:
                if direct:
                    raise Deferred(error.zoho_code) from None
                if attempt >= self.settings.max_attempts:
                    return dead + [self._dead(w, failure(error), attempt) for w in pending]
                await self._wait(attempt, error, len(pending))
                continue
            except ZohoError as error:
                return dead + [self._dead(w, failure(error), attempt) for w in pending]
            retry: list[Write] = []
            with_rows: list[tuple[Write, WriteOutcome]] = []
            for write, outcome in zip(pending, outcomes, strict=True):
                if gone(write, outcome):  # deleted in the target: found or created again
                    self._forget(write)
                    dead += await self._send([recreated(write)], direct, self._call)
                elif outcome.ok or already_deleted(write, outcome):
                    self._succeeded(write, outcome)
                    if write.operation == "upsert" and subforms(write.record):
                        with_rows.append((write, outcome))
                elif outcome.retryable and direct:
                    raise Deferred(outcome.code)
                elif outcome.retryable and attempt < self.settings.max_attempts:
                    retry.append(write)
                else:
                    dead.append(self._dead(write, failure(outcome), attempt))
            await asyncio.gather(*(self._settle_rows(w, o) for w, o in with_rows))
            pending = retry
            if pending:
                await self._wait(attempt, None, len(pending))
        return dead

    async def _call(self, writes: list[Write]) -> list[WriteOutcome]:
        """One call: deletes, updates by id (linked records, and those `link_existing`
        bound), or upserts on the match field."""
        first = writes[0]
        route = self.routes[first.route]
        if first.operation == "delete":
            ids = [str(w.target_id) for w in writes]
            return await self.client.delete(
                first.target_module, ids, wf_trigger=bool(route.trigger), retry=SINGLE_ATTEMPT
            )
        rows = [self._outgoing(w) for w in writes]
        if first.target_id is not None:
            by_id = [{**row, "id": w.target_id} for w, row in zip(writes, rows, strict=True)]
            return await self.client.update(
                first.target_module, by_id, trigger=list(route.trigger), retry=SINGLE_ATTEMPT
            )
        return await self.client.upsert(
            first.target_module,
            rows,
            [first.match_field],
            trigger=list(route.trigger),
            retry=SINGLE_ATTEMPT,
        )

    def _outgoing(self, write: Write) -> dict[str, Any]:
        if not subforms(write.record):
            return write.record
        key = rows_key(write.source_org, write.source_module, write.source_id, self.org)
        return outgoing(write.record, row_links.load(self.links.get(key)))

    async def _settle_rows(self, write: Write, outcome: WriteOutcome) -> None:
        """After a write with subform rows: learn the new rows' target ids from the record
        read back, and remove stray copies (pipeline/mapping/subform_rows.py). When Zoho cannot
        answer, the row map stays as it was and the record's next write settles it."""
        target_id = str(outcome.id)
        key = rows_key(write.source_org, write.source_module, write.source_id, self.org)
        try:
            target = await self.client.get_record(write.target_module, target_id) or {}
            settled = settle(write.record, row_links.load(self.links.get(key)), target)
            if settled.strays:
                await self.client.update(write.target_module, [removal(target_id, settled.strays)])
        except ZohoError as error:
            log.warning("row ids not settled key=%s error=%s", write.key, error.zoho_code)
            return
        self.links[key] = row_links.dump(settled.rows)
        if self.routed_back:
            back = rows_key(self.org, write.target_module, target_id, write.source_org)
            self.links[back] = row_links.dump(row_links.reverse(settled.rows))

    async def _wait(self, attempt: int, error: RetryableError | None, count: int) -> None:
        delay = self._backoff.delay(attempt, retry_after=error.retry_after if error else None)
        log.warning(
            "sink retry target=%s records=%d attempt=%d error=%s wait=%.2fs",
            self.org,
            count,
            attempt,
            error.zoho_code if error else "per-record",
            delay,
        )
        self.metrics.sink_retries.labels(target=self.org).inc()
        await self._sleep(delay)

    def _succeeded(self, write: Write, outcome: WriteOutcome) -> None:
        action = outcome.action or (write.operation if outcome.ok else "already_deleted")
        self._written(write.target_module, action).inc()
        if write.operation == "delete":
            self._forget(write)
            return
        target_id = str(outcome.id)
        forward = link_key(write.source_org, write.source_module, write.source_id, self.org)
        if self.links.get(forward) != target_id:
            self.links[forward] = target_id
        if self.routed_back:
            self.links[link_key(self.org, write.target_module, target_id, write.source_org)] = (
                write.source_id
            )
            modified = outcome.details.get("Modified_Time")
            self.states.wrote(write, target_id, str(modified) if modified else None)
        if write.modified_time:
            latency = time.time() - parse_instant(write.modified_time).timestamp()
            self._latency.observe(max(latency, 0.0))

    def _written(self, module: str, outcome: str) -> Any:
        """The write counter of `module` and `outcome`, its labels looked up once."""
        if (module, outcome) not in self._counters:
            child = self.metrics.writes.labels(target=self.org, module=module, outcome=outcome)
            self._counters[module, outcome] = child
        return self._counters[module, outcome]

    def _forget(self, write: Write) -> None:
        target_id = str(write.target_id)
        for key in (
            link_key(write.source_org, write.source_module, write.source_id, self.org),
            link_key(self.org, write.target_module, target_id, write.source_org),
        ):
            self.links.pop(key, None)
        if self.routed_back:
            self.states.forget(record_key(self.org, write.target_module, target_id))

    def _ambiguous(self, write: Write, candidates: list[str]) -> DeadLetter:
        fields = self.routes[write.route].modules[write.source_module].link_existing
        message = (
            f"{len(candidates)} {write.target_module} records in {self.org} have the same "
            f"{', '.join(fields)}: bind one by hand (set its {write.match_field}) or make "
            "the key unique"
        )
        details = {"candidates": candidates, "fields": list(fields)}
        return self._dead(write, Failure("AMBIGUOUS_MATCH", message, details), 1)

    def _dead(self, write: Write, failure: Failure, attempts: int) -> DeadLetter:
        self._written(write.target_module, "failed").inc()
        log.warning(
            "dead letter route=%s key=%s code=%s message=%s",
            write.route,
            write.key,
            failure.code,
            failure.message,
        )
        return dead_letter(
            write.route,
            "write",
            write.key,
            write.asdict(),
            failure.code,
            failure.message,
            dict(failure.details),
            attempts,
        )
