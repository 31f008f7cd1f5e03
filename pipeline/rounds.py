"""The hot path: one loop of rounds on aiokafka, inside the Faust worker.

A round takes up to `ROUND_MAX` messages from `hints` (records to read) and `fetched` (records
already read: backfill, replay, released children), then:
1. reads the hinted records, ≤ 100 ids per call per org and module (the last hint wins);
2. produces every record to `changes`, the replayable log, in one burst;
3. processes them in-process (dedup, transforms, echo and conflict checks, lookups);
4. writes each target's records (`targets.TargetWriter`: directly, or into its queue);
5. awaits the acknowledgements of everything it produced (changes, queued writes, dead letters,
   held children);
6. produces the state changes (fingerprints, links, record states) to their compacted topics,
   awaits their acknowledgements, then commits the round's offsets.
A crash before the commit redoes the round: a fingerprint is stored only after its write, and
upserts on the match key make a redone write harmless. Rebalances wait for the running round;
a newly assigned partition's fingerprints are loaded before its first round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, KafkaError

from connectors.kafka import Bulk
from connectors.zoho import BackoffPolicy, ZohoClient, ZohoError
from orgsync_kernel.events import Change, DeadLetter, HeldChange, Hint, dead_letter, split_key
from orgsync_kernel.settings import Settings
from pipeline.fetch import fetch_group, group_hints
from pipeline.metrics import PipelineMetrics
from pipeline.processor import Processed, Processor
from pipeline.store import PipelineState, partition_of
from pipeline.targets import TargetWriter

log = logging.getLogger(__name__)
ROUND_MAX = 2000
TOPIC_WAIT_SECONDS = 60.0
RETRY_SECONDS = 1.0  # before a failed round (Kafka or Zoho out of reach) is redone
COMMIT_SECONDS = 10.0
STOP_SECONDS = 8.0  # SIGTERM must end the worker within 30 s, the Faust drain included


class Round:
    """What one round produced; the acknowledgements to await before the commit."""

    def __init__(self) -> None:
        self.acks: list[Awaitable[Any]] = []
        self.writes: dict[str, list[Any]] = {}
        self.dead: list[DeadLetter] = []


class RoundLoop:
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
        """Build it inside the running event loop (aiokafka clients bind to it)."""
        self.settings = settings
        self.topics = settings.topics
        self.clients = clients
        self.processor = processor
        self.state = state
        self.producer = producer
        self.writers = writers
        self.metrics = metrics
        self.retry = BackoffPolicy(
            max_attempts=settings.sink.max_attempts,
            base=settings.sink.backoff_initial_ms / 1000,
            cap=settings.sink.backoff_max_ms / 1000,
        )
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=state.bootstrap,
            group_id=self.topics.rounds_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=4 << 20,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        self.busy = asyncio.Lock()  # held by a round; a rebalance waits for it
        self.closing = False

    async def start(self) -> None:
        """Join the group; `run()` then takes the rounds (the worker supervises it)."""
        await self.consumer.start()
        await self._wait_for_topics()
        self.consumer.subscribe([self.topics.hints, self.topics.fetched], listener=_Rebalance(self))

    async def stop(self) -> None:
        """Let the running round finish (it commits) for at most STOP_SECONDS, then leave the
        group; a round cut short is not committed, so it is redone."""
        self.closing = True
        try:
            async with asyncio.timeout(STOP_SECONDS), self.busy:
                pass
        except TimeoutError:
            log.warning(
                "stopping with a round unfinished after %.0fs: it will be redone", STOP_SECONDS
            )
        await self.consumer.stop()

    async def _wait_for_topics(self) -> None:
        wanted = {self.topics.hints, self.topics.fetched}
        deadline = time.monotonic() + TOPIC_WAIT_SECONDS
        while not wanted <= await self.consumer.topics():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"topics {', '.join(sorted(wanted))} never appeared in the "
                    f"cluster's metadata within {TOPIC_WAIT_SECONDS:.0f}s"
                )
            log.info("waiting for topics %s", ", ".join(sorted(wanted)))
            await asyncio.sleep(0.5)

    async def run(self) -> None:
        """Rounds until `stop()`; an unexpected error ends it, and with it the worker."""
        try:
            await self._rounds()
        except ConsumerStoppedError:
            if not self.closing:
                raise

    async def _rounds(self) -> None:
        while not self.closing:
            batches = await self._collect()
            if not batches or self.closing:
                continue
            async with self.busy:
                batches = await self._owned(batches)
                if not batches:
                    continue
                try:
                    await self.run_round(batches)
                except (KafkaError, ZohoError, TimeoutError, OSError) as error:
                    log.warning(
                        "round failed, redoing it in %.0fs: %s",
                        RETRY_SECONDS,
                        error.__class__.__name__,
                    )
                    await asyncio.sleep(RETRY_SECONDS)
                    await self._rewind(batches)

    async def _owned(
        self, batches: dict[TopicPartition, list[ConsumerRecord]]
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The part of a round whose partitions' state is loaded; the rest is read again
        later (aiokafka may hand out records before the assignment callback has run)."""
        owned = self.state.fingerprints.owned
        later = {tp: ms for tp, ms in batches.items() if tp.partition not in owned}
        await self._rewind(later)
        return {tp: ms for tp, ms in batches.items() if tp.partition in owned}

    async def _rewind(self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> None:
        """Back to the first message of a failed round (nothing of it was committed)."""
        for tp, messages in batches.items():
            if messages and tp in self.consumer.assignment():
                self.consumer.seek(tp, messages[0].offset)

    async def _collect(self) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The messages of the next round: up to ROUND_MAX, gathered for at most
        `fetch.linger_ms` after the first one."""
        found = await self.consumer.getmany(timeout_ms=200, max_records=ROUND_MAX)
        batches = {tp: list(messages) for tp, messages in found.items()}
        count = sum(map(len, batches.values()))
        deadline = time.monotonic() + self.settings.fetch.linger_ms / 1000
        while batches and count < ROUND_MAX and (left := deadline - time.monotonic()) > 0:
            more = await self.consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=ROUND_MAX - count
            )
            for tp, messages in more.items():
                batches.setdefault(tp, []).extend(messages)
                count += len(messages)
        return batches

    async def run_round(self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> None:
        hints, fetched = self._decode(batches)
        try:
            await self.process(hints, fetched)
        except BaseException:
            self.processor.discard_unconfirmed()
            self.state.forget_unsent()
            raise
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batches.items() if messages}
        try:  # bounded: after a broker restart a commit can wait on the coordinator for long
            async with asyncio.timeout(COMMIT_SECONDS):
                await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError, TimeoutError) as error:
            # A later round's commit covers these offsets, or the round is redone: harmless.
            log.warning("round not committed (%s): it may be redone", type(error).__name__)

    def _decode(
        self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord]]
    ) -> tuple[list[Hint], list[Change]]:
        hints: list[Hint] = []
        fetched: list[Change] = []
        for tp, messages in batches.items():
            kind = Hint if tp.topic == self.topics.hints else Change
            into: list[Any] = hints if kind is Hint else fetched
            for message in messages:
                try:
                    into.append(kind.loads(message.value))
                except (ValueError, TypeError, KeyError) as error:
                    log.warning(
                        "skipped a message that is not a %s topic=%s offset=%d: %s",
                        kind.__name__,
                        tp.topic,
                        message.offset,
                        error,
                    )
        return hints, fetched

    async def process(self, hints: list[Hint], fetched: list[Change]) -> None:
        """One round of these messages, up to its state acknowledged (not the commit)."""
        round_ = Round()
        changes = [*await self._fetch(hints, round_), *fetched]
        await self._log(changes, round_)
        for change in changes:
            await self._route(change, round_)
        await self._write(round_)
        for letter in round_.dead:
            await self._dead(letter, round_)
        # Everything a fingerprint stands for (queued writes, dead letters, held children)
        # must be in Kafka before the fingerprint is: the producer may reorder partitions.
        if round_.acks:
            await asyncio.gather(*round_.acks)
        self.processor.confirm()
        await self.state.flush()

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

    async def _fetch(self, hints: list[Hint], round_: Round) -> list[Change]:
        groups = group_hints(hints).items()
        results = await asyncio.gather(
            *(self._fetch_group(org, module, group, round_) for (org, module), group in groups)
        )
        return [change for changes in results for change in changes]

    async def _fetch_group(
        self, org: str, module: str, group: dict[str, Hint], round_: Round
    ) -> list[Change]:
        try:
            self.metrics.fetch_calls.labels(org=org).inc()
            return await fetch_group(
                self.clients[org], module, group, self.retry, self.settings.fetch.batch_size
            )
        except ZohoError as error:
            log.warning(
                "fetch failed org=%s module=%s records=%d error=%s",
                org,
                module,
                len(group),
                error.zoho_code,
            )
            round_.dead += [
                dead_letter(
                    "",
                    "fetch",
                    hint.key,
                    hint.asdict(),
                    error.zoho_code,
                    error.zoho_message,
                    attempts=self.retry.max_attempts,
                )
                for hint in group.values()
            ]
            return []

    async def _route(self, change: Change, round_: Round) -> None:
        out = await self.processor.process(change)
        for reason, count in out.drops.items():
            self.metrics.drops.labels(org=change.org, reason=reason).inc(count)
        for write in out.writes:
            round_.writes.setdefault(write.target_org, []).append(write)
        round_.dead += [
            dead_letter(r.route, "transform", change.key, change.asdict(), "REJECTED", r.reason)
            for r in out.rejected
        ]
        if out.missing_parents or out.deferred:
            await self._hold(change, out, round_)

    async def _hold(self, change: Change, out: Processed, round_: Round) -> None:
        now = time.time()
        for parent in set(out.missing_parents.values()):
            org, module, record_id = split_key(parent)
            hint = Hint(
                org=org,
                module=module,
                id=record_id,
                operation="update",
                source="lookup",
                received_at=now,
            )
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

    async def partitions_changed(self, owned: int) -> None:
        """After a rebalance: queues are checked again, and this worker takes the share of
        each org's API slots that its share of the partitions gives (Zoho counts them per
        app, and every worker uses the same one)."""
        for writer in self.writers.values():
            writer.recheck()
        fraction = owned / self.settings.kafka.partitions
        for client in self.clients.values():
            await client.limiter.share(fraction)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: RoundLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.loop.busy:  # the running round finishes and commits first
            self.loop.state.disown({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        partitions = {tp.partition for tp in assigned}
        async with self.loop.busy:  # no round before the partitions' state is loaded
            await self.loop.state.own(partitions)
            await self.loop.partitions_changed(len(partitions))
        for topic in (self.loop.topics.hints, self.loop.topics.fetched):
            numbers = sorted(tp.partition for tp in assigned if tp.topic == topic)
            log.info(
                "partitions assigned topic=%s partitions=%s",
                topic,
                ",".join(map(str, numbers)) or "-",
            )
