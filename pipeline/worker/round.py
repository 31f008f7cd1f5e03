"""One round of the hot path: its messages, what it produced, and the steps that make it.

`RoundSteps.prepare` reads the hinted records, logs them to `changes` and processes them;
`RoundSteps.complete` writes the targets, awaits every acknowledgement and stores the state.
The loop (pipeline/worker/loop.py) prepares a round while the round before it completes; a change
that depends on what that earlier round writes (see `Round.concerns`) waits until it landed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import faust
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition

from connectors.kafka import Bulk, partition_of
from connectors.zoho import BackoffPolicy, ZohoClient
from orgsync_kernel.events import (
    Change,
    DeadLetter,
    HeldChange,
    Hint,
    RelatedWork,
    Write,
    dead_letter,
    hint_for,
    record_key,
    too_new,
)
from orgsync_kernel.schema import SchemaTooNew
from orgsync_kernel.settings import Settings
from orgsync_kernel.topics import Topics
from pipeline.sync.metrics import PipelineMetrics
from pipeline.sync.processor import Processed, Processor
from pipeline.worker.reads import Reads
from pipeline.worker.state import PipelineState
from pipeline.worker.targets import TargetWriter

log = logging.getLogger(__name__)
# Hint sources that report (or ask for) a change of the record itself, not of its related
# items: such a change reads them only when the record did change.
RECORD_SOURCES = frozenset({"poll", "notification", "webhook", "lookup"})
Batches = Mapping[TopicPartition, Sequence[ConsumerRecord]]


class Round:
    """One round's messages, and what it produced: the writes to make, the acknowledgements to
    await before its commit, and the dedup fingerprints its writes will confirm."""

    def __init__(self, batches: Batches | None = None) -> None:
        self.batches: Batches = batches or {}
        self.acks: list[Awaitable[Any]] = []
        self.writes: dict[str, list[Any]] = {}
        self.dead: list[DeadLetter] = []
        self.fingerprints: dict[str, dict[str, Any]] = {}
        self.planned: dict[str, dict[str, Any]] = {}  # two-way writes decided, per target
        self.records: set[tuple[str, str]] = set()  # (org, id) of what it writes or dedups
        self.asked: set[str] = set()  # records whose links other workers asked for

    def offsets(self) -> dict[TopicPartition, int]:
        """The offsets to commit once the round is complete."""
        return {tp: ms[-1].offset + 1 for tp, ms in self.batches.items() if ms}

    def concerns(self, change: Change | Write) -> bool:
        """Whether `change` must wait until this round's writes landed: it is a record this
        round writes, it looks up such a record (by id, in any field or subform row), or it
        comes from an org this round writes to (the echo of a write in flight). A proposed
        write (`decide`) waits as a change of its target record would."""
        if isinstance(change, Write):
            org, record_id, record = change.target_org, str(change.target_id), {}
        else:
            org, record_id, record = change.org, change.id, change.record
        if org in self.writes or (org, record_id) in self.records:
            return True
        return any((org, ref) in self.records for ref in referenced_ids(record))


def referenced_ids(value: Any) -> list[str]:
    """The `id` of every lookup in a record: nested objects, in fields and subform rows (a
    walk with a stack, not nested generators: it runs for most changes of a round)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for inner in item.values():
                if isinstance(inner, dict):
                    if isinstance(inner.get("id"), str):
                        found.append(inner["id"])
                    stack.append(inner)
                elif isinstance(inner, list):
                    stack.append(inner)
        elif isinstance(item, list):
            stack += [inner for inner in item if isinstance(inner, dict | list)]
    return found


class RoundSteps:
    """What a round does, without the consumer: `prepare`, then `complete`."""

    def __init__(
        self,
        settings: Settings,
        clients: Mapping[str, ZohoClient],
        processor: Processor,
        state: PipelineState,
        producer: AIOKafkaProducer,
        writers: Mapping[str, TargetWriter],
        metrics: PipelineMetrics,
    ) -> None:
        self.settings = settings
        self.topics: Topics = settings.topics
        self.clients = clients
        self.processor = processor
        self.state = state
        self.producer = producer
        self.writers = writers
        # (org, module) -> the routes that sync its records' notes/attachments/tags, and which
        self.related: dict[tuple[str, str], list[tuple[str, list[str]]]] = {}
        for route in settings.sync:
            for module, mapping in route.modules.items():
                if mapping.related:
                    key = (route.source, module)
                    self.related.setdefault(key, []).append((route.name, mapping.related))
        self.metrics = metrics
        self.retry = BackoffPolicy(
            max_attempts=settings.sink.max_attempts,
            base=settings.sink.backoff_initial_ms / 1000,
            cap=settings.sink.backoff_max_ms / 1000,
        )
        self.reads = Reads(clients, metrics, self.retry, settings.fetch.batch_size)

    def decode(self, round_: Round) -> tuple[list[Hint], list[Change], list[Write]]:
        """The round's hints, fetched changes and writes to decide; a value too new for this
        release goes to the round's dead letters, one that does not decode at all is skipped."""
        found: dict[type, list[Any]] = {Hint: [], Change: [], Write: []}
        kinds = {self.topics.hints: Hint, self.topics.decide: Write}
        for tp, messages in round_.batches.items():
            kind: type[Any] = kinds.get(tp.topic, Change)
            into = found[kind]
            for message in messages:
                try:
                    into.append(kind.loads(message.value))
                except SchemaTooNew as error:
                    log.error(
                        "dead-lettered topic=%s offset=%d: %s", tp.topic, message.offset, error
                    )
                    round_.dead.append(too_new(error, tp.topic, message.key, message.value))
                except (ValueError, TypeError, KeyError) as error:
                    log.warning(
                        "skipped a message that is not a %s topic=%s offset=%d: %s",
                        kind.__name__,
                        tp.topic,
                        message.offset,
                        error,
                    )
        return found[Hint], found[Change], found[Write]

    async def prepare(
        self,
        round_: Round,
        hints: list[Hint],
        fetched: list[Change],
        earlier: Callable[[Change | Write], Awaitable[None]] | None = None,
        decided: Sequence[Write] = (),
    ) -> None:
        """Read, log and process; `earlier(change)` returns once the round before this one
        no longer concerns the change (it raises when that round failed). `decided`: two-way
        writes into this worker's records, done elsewhere (recorded in their states) or
        proposed (decided here)."""
        round_.asked = {hint.key for hint in hints if hint.source == "lookup"}
        changes = [*await self.reads.hinted(hints, round_.dead), *fetched]
        proposed = [write for write in decided if write.operation == "upsert"]
        for done in decided:
            if done.operation != "upsert":
                self.state.states.record(done)
        if not proposed and not any(self.processor.observes(change) for change in changes):
            await self._log(changes, round_)
            for change in changes:
                if earlier is not None:
                    await earlier(change)
                await self._route(change, round_)
            return
        # Two-way: once the round before landed (its writes are in the targets and their
        # states), read the targets of this round's writes, observe every record, then decide.
        for item in [*changes, *proposed]:
            if earlier is not None:
                await earlier(item)
        targets = self._two_way_targets(changes, proposed)
        changes = [*await self.reads.targets(targets), *changes]
        await self._log(changes, round_)
        fresh = [self.processor.observe(change) for change in changes]
        for change, observed in zip(changes, fresh, strict=True):
            await self._route(change, round_, observed)
        for write in proposed:
            out = self.processor.decide(write)
            await self._take(out, write.source_org, write.source_module, write.key, round_)

    async def complete(self, round_: Round) -> None:
        """Write, await every acknowledgement, then store the state (not the commit)."""
        await self._write(round_)
        for letter in round_.dead:
            await self._dead(letter, round_)
        # Everything a fingerprint stands for (queued writes, dead letters, held children)
        # must be in Kafka before the fingerprint is: the producer may reorder partitions.
        if round_.acks:
            await asyncio.gather(*round_.acks)
        self.processor.confirm(round_.fingerprints)
        self.processor.landed(round_.planned)
        self.state.links.publish(round_.asked)
        await self.state.flush()

    def abandon(self) -> None:
        """Forget what unfinished rounds left in memory: they will be redone."""
        self.processor.discard_unconfirmed()
        self.state.forget_unsent()

    async def _log(self, changes: list[Change], round_: Round) -> None:
        """Every change to `changes` (the replayable log), in batches per partition."""
        bulk = Bulk(self.producer)
        partitions = self.settings.kafka.partitions
        counted: Counter[tuple[str, str]] = Counter()
        for change in changes:
            key = change.key
            bulk.add(
                self.topics.changes, partition_of(key, partitions), key.encode(), change.dumps()
            )
            counted[change.org, change.operation] += 1
        round_.acks += await bulk.send()
        for (org, operation), count in counted.items():
            self.metrics.changes.labels(org=org, operation=operation).inc(count)

    def _two_way_targets(self, changes: list[Change], proposed: Sequence[Write]) -> list[Hint]:
        """The target records that the changes may write on two-way routes (their targets keep
        record states) and the proposed writes will, which the round has no fresh copy of;
        those of other workers' partitions decide (and read) there."""
        have = {change.key for change in changes}
        now = time.time()
        wanted = {
            w.target_key: hint_for(w.target_key, "reconcile", now)
            for w in proposed
            if w.target_key not in have
        }
        for change in changes:
            if change.operation == "delete" or change.source == "reconcile":
                continue
            for route in self.processor.routes_for(change):
                if not self.settings.routes_from(route.target):
                    continue
                target_id = self.processor.target_id(change, route)
                if target_id is None:
                    continue
                key = record_key(route.target, route.target_module(change.module), target_id)
                if key not in have and self.processor.holds(key):
                    wanted[key] = hint_for(key, "reconcile", now)
        return list(wanted.values())

    async def _route(self, change: Change, round_: Round, fresh: bool | None = None) -> None:
        out = await self.processor.process(change, fresh)
        await self._take(out, change.org, change.module, change.key, round_)
        if out.writes or out.fingerprints is not None:
            round_.records.add((change.org, change.id))
        if out.fingerprints is not None:
            round_.fingerprints[change.key] = out.fingerprints
        elif change.operation == "delete":  # the processor dropped the record's fingerprints
            round_.fingerprints.pop(change.key, None)
        round_.dead += [
            dead_letter(r.route, "transform", change.key, change.asdict(), r.code, r.reason)
            for r in out.rejected
        ]
        if out.missing_parents or out.deferred:
            await self._hold(change, out, round_)
        if self._may_relate(change, out):
            await self._relate(change, round_)

    async def _take(self, out: Processed, org: str, module: str, key: str, round_: Round) -> None:
        """What processing the record `key` (of `org`'s `module`) decided: its drops counted,
        conflicts reported, writes made this round, writes proposed to other workers sent
        (acknowledged before the round's fingerprints are stored, as queued writes are)."""
        for reason, count in out.drops.items():
            self.metrics.drops.labels(org=org, reason=reason).inc(count)
        if out.conflicts or out.dropped_lookups:
            self._report(module, key, out)
        for write in out.writes:
            round_.writes.setdefault(write.target_org, []).append(write)
        round_.planned.update(out.planned)
        for write in out.proposals:
            round_.acks.append(await self._send(self.topics.decide, write.target_key, write))

    def _report(self, module: str, key: str, out: Processed) -> None:
        """Nothing silent: a conflict is logged with both values, a dropped lookup counted."""
        for route, conflict in out.conflicts:
            labels = (route, module, conflict.field, conflict.winner)
            self.metrics.conflicts.labels(*labels).inc()
            log.warning(
                "conflict route=%s key=%s field=%s incoming=%r target=%r target_edited_at=%s "
                "kept=%s",
                route,
                key,
                conflict.field,
                conflict.incoming,
                conflict.target,
                conflict.target_edited_at,
                conflict.winner,
            )
        for route, name in out.dropped_lookups:
            self.metrics.dropped_lookups.labels(route, module, name).inc()

    def _may_relate(self, change: Change, out: Processed) -> bool:
        """Whether the record's notes, attachments or tags may have changed: the record did
        (its fingerprint moved), or the change does not come from a path that reports the
        record's own changes (a related action, a note listed, a backfill).
        A record re-listed or re-notified unchanged has nothing new to read."""
        if (change.org, change.module) not in self.related or change.operation == "delete":
            return False
        if change.source == "reconcile":
            return False
        return out.fingerprints is not None or change.source not in RECORD_SOURCES

    async def _relate(self, change: Change, round_: Round) -> None:
        """A note or attachment changes no field of its parent: queued by `_may_relate`."""
        for route, kinds in self.related[change.org, change.module]:
            work = RelatedWork(
                route=route,
                org=change.org,
                module=change.module,
                id=change.id,
                kinds=kinds,
                queued_at=time.time(),
            )
            round_.acks.append(await self._send(self.topics.related, work.key, work))

    async def _hold(self, change: Change, out: Processed, round_: Round) -> None:
        now = time.time()
        for parent in set(out.missing_parents.values()):
            hint = hint_for(parent, "lookup", now)
            round_.acks.append(await self._send(self.topics.hints, hint.key, hint))
        held = HeldChange(change=change, held_since=now, parents=sorted(out.missing_parents))
        round_.acks.append(await self._send(self.topics.held, change.key, held))

    async def _write(self, round_: Round) -> None:
        results = await asyncio.gather(
            *(self.writers[target].write(writes) for target, writes in round_.writes.items())
        )
        for dead, queued in results:
            round_.dead += dead
            round_.acks += queued

    async def _dead(self, letter: DeadLetter, round_: Round) -> None:
        self.metrics.dead_letters.labels(route=letter.route, stage=letter.stage).inc()
        round_.acks.append(await self._send(self.topics.dlq, letter.key, letter))

    async def _send(self, topic: str, key: str, value: faust.Record) -> Awaitable[Any]:
        ack: Awaitable[Any] = await self.producer.send(topic, value=value.dumps(), key=key.encode())
        return ack
