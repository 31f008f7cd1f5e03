"""The hot path: one loop of rounds on aiokafka, inside the Faust worker.

A round takes up to `ROUND_MAX` messages from `hints` (records to read), `fetched` (records
already read: backfill, replay, released children) and `decide` (two-way writes into records of
its partitions, proposed or done by other workers), then (pipeline/worker/round.py):
1. reads the hinted records, ≤ 100 ids per call per org and module (the last hint wins);
2. produces every record to `changes`, the replayable log, in one burst;
3. processes them in-process (dedup, transforms, echo and conflict checks, lookups);
4. writes each target's records (`targets.TargetWriter`: directly, or into its queue);
5. awaits the acknowledgements of everything it produced (changes, queued writes, dead letters,
   held children);
6. produces the state changes (fingerprints, links, record states) to their compacted topics,
   awaits their acknowledgements, then commits the round's offsets.
Steps 1-3 of a round overlap steps 4-6 of the round before it; the writes of rounds never
overlap, and their commits are in order. A change that the earlier round concerns (the same
record, a record it looks up, or any change from an org that round writes to) is processed only
once that round's writes landed. When a round fails, it and the round after it are redone.
A crash before the commit redoes the round: a fingerprint is stored only after its write, and
upserts on the match key make a redone write harmless. Rebalances wait for the running rounds;
a newly assigned partition's fingerprints are loaded before its first round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, KafkaError

from connectors.zoho import ZohoError
from orgsync_kernel.events import Change, Hint
from pipeline.worker.round import Batches, Round, RoundSteps

log = logging.getLogger(__name__)
ROUND_MAX = 2000
TOPIC_WAIT_SECONDS = 60.0
RETRY_SECONDS = 1.0  # before a failed round (Kafka or Zoho out of reach) is redone
COMMIT_SECONDS = 10.0
STOP_SECONDS = 8.0  # SIGTERM must end the worker within 30 s, the Faust drain included
ROUND_ERRORS = (KafkaError, ZohoError, TimeoutError, OSError)


class Completing:
    """A prepared round whose writes, acknowledgements, state and commit are under way."""

    def __init__(self, round_: Round, task: asyncio.Task[None]) -> None:
        self.round = round_
        self.task = task

    async def unless_concerned(self, change: Change) -> None:
        """Return at once, or once this round landed when it concerns `change`."""
        if not self.task.done() and self.round.concerns(change):
            await asyncio.shield(self.task)
        elif self.task.done():
            self.task.result()  # its failure fails the next round too

    async def ended(self) -> bool:
        """Wait for it; True when it completed, False when it failed (it must be redone)."""
        await asyncio.wait([self.task])
        error = self.task.exception()
        if error is not None and not isinstance(error, ROUND_ERRORS):
            raise error
        return error is None


class RoundLoop:
    def __init__(self, steps: RoundSteps) -> None:
        """Build it inside the running event loop (aiokafka clients bind to it)."""
        self.steps = steps
        self.settings = steps.settings
        self.topics = steps.topics
        self.state = steps.state
        self.consumer = steps.state.cluster.consumer(
            group_id=self.topics.rounds_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=4 << 20,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            partition_assignment_strategy=(RangePartitionAssignor,),
            # static membership: a restart within the session timeout keeps the assignment
            group_instance_id=self.settings.worker.instance_id,
        )
        self.loading: asyncio.Task[None] | None = None
        self.busy = asyncio.Lock()  # held while a round is prepared; a rebalance waits for it
        self.completing: Completing | None = None
        self.closing = False

    async def start(self) -> None:
        """Join the group; `run()` then takes the rounds (the worker supervises it)."""
        await self.consumer.start()
        await self._wait_for_topics()
        self.consumer.subscribe(self._topics(), listener=_Rebalance(self))

    async def stop(self) -> None:
        """Let the running rounds finish (they commit) for at most STOP_SECONDS, then leave the
        group; a round cut short is not committed, so it is redone."""
        self.closing = True
        try:
            async with asyncio.timeout(STOP_SECONDS), self.busy:
                await self.settle()
        except TimeoutError:
            log.warning(
                "stopping with a round unfinished after %.0fs: it will be redone", STOP_SECONDS
            )
        if self.loading is not None:  # ended before the state's readers stop
            self.loading.cancel()
            with contextlib.suppress(asyncio.CancelledError, *ROUND_ERRORS):
                await self.loading
        await self.consumer.stop()

    def _topics(self) -> list[str]:
        return self.topics.consumers(())[self.topics.rounds_group]

    async def _wait_for_topics(self) -> None:
        wanted = set(self._topics())
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
            async with self.busy:
                if self.closing:
                    break
                earlier = self.completing
                if earlier is not None and earlier.task.done():
                    self.completing = None
                    if not await earlier.ended():
                        await self._redo([earlier.round.batches, batches])
                        continue
                batches = self._owned(batches)
                if batches:
                    await self._next_round(Round(batches))

    async def _next_round(self, round_: Round) -> None:
        """Prepare `round_` while the round before it completes, then start completing it."""
        earlier, self.completing = self.completing, None
        hints, fetched, decided = self.steps.decode(round_)
        try:
            await self.steps.prepare(
                round_, hints, fetched, earlier.unless_concerned if earlier else None, decided
            )
            failed = []
        except ROUND_ERRORS:
            failed = [round_.batches]
        if earlier is not None and not await earlier.ended():
            failed = [earlier.round.batches, round_.batches]
        if failed:
            await self._redo(failed)
        else:
            self.completing = Completing(round_, asyncio.create_task(self._complete(round_)))

    async def _complete(self, round_: Round) -> None:
        await self.steps.complete(round_)
        try:  # bounded: after a broker restart a commit can wait on the coordinator for long
            async with asyncio.timeout(COMMIT_SECONDS):
                await self.consumer.commit(round_.offsets())
        except (CommitFailedError, KafkaError, TimeoutError) as error:
            # A later round's commit covers these offsets, or the round is redone: harmless.
            log.warning("round not committed (%s): it may be redone", type(error).__name__)

    async def settle(self, pause: bool = False) -> None:
        """Wait for the round being completed; one that failed is rewound, to be redone."""
        earlier, self.completing = self.completing, None
        if earlier is not None and not await earlier.ended():
            await self._redo([earlier.round.batches], pause)

    async def _redo(self, failed: Iterable[Batches], pause: bool = True) -> None:
        """Forget what the failed rounds did and read their messages again (nothing of them
        was committed), after RETRY_SECONDS."""
        log.warning("round failed, redoing it in %.0fs", RETRY_SECONDS if pause else 0)
        self.steps.abandon()
        if pause:
            await asyncio.sleep(RETRY_SECONDS)
        first: dict[TopicPartition, int] = {}
        for batches in failed:
            for tp, messages in batches.items():
                if messages:
                    first[tp] = min(first.get(tp, messages[0].offset), messages[0].offset)
        self._seek(first)

    def _seek(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if tp in self.consumer.assignment():
                self.consumer.seek(tp, offset)

    def _owned(self, batches: Batches) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The part of a round whose partitions' state is loaded; the rest is read again
        later (aiokafka may hand out records before the assignment callback has run)."""
        owned = self.state.fingerprints.owned
        later = {tp: ms[0].offset for tp, ms in batches.items() if ms and tp.partition not in owned}
        self._seek(later)
        return {tp: list(ms) for tp, ms in batches.items() if tp.partition in owned}

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

    async def process(self, hints: list[Hint], fetched: list[Change]) -> None:
        """One round of these messages on its own, up to its state acknowledged (no commit)."""
        round_ = Round()
        try:
            await self.steps.prepare(round_, hints, fetched)
            await self.steps.complete(round_)
        except BaseException:
            self.steps.abandon()
            raise

    async def partitions_changed(self, owned: int) -> None:
        """After a rebalance: queues are checked again, and this worker takes the share of
        each org's API slots that its share of the partitions gives (Zoho counts them per
        app, and every worker uses the same one)."""
        for writer in self.steps.writers.values():
            writer.recheck()
        fraction = owned / self.settings.kafka.partitions
        for client in self.steps.clients.values():
            await client.limiter.share(fraction)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: RoundLoop) -> None:
        self.loop = loop

    async def _load(self, partitions: set[int], paused: list[TopicPartition]) -> None:
        """The fingerprints of new partitions, then their messages (`_owned` holds back any
        handed out before); retried while Kafka does not answer."""
        while True:
            try:
                await self.loop.state.load(partitions)
                break
            except ROUND_ERRORS as error:
                log.warning("loading fingerprints failed: %s; again", type(error).__name__)
                await asyncio.sleep(RETRY_SECONDS)
        assigned = self.loop.consumer.assignment()
        self.loop.state.drop({tp.partition for tp in paused if tp not in assigned})
        self.loop.consumer.resume(*[tp for tp in paused if tp in assigned])

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.loop.busy:  # the running rounds finish and commit first
            await self.loop.settle()
            self.loop.state.disown({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        partitions = {tp.partition for tp in assigned}
        async with self.loop.busy:
            new = self.loop.state.keep(partitions)
            await self.loop.partitions_changed(len(partitions))
        if new:  # loaded outside this callback, which holds back the group's heartbeats
            waiting = [tp for tp in assigned if tp.partition in new]
            self.loop.consumer.pause(*waiting)
            self.loop.loading = asyncio.create_task(self._load(new, waiting))
        for topic in (self.loop.topics.hints, self.loop.topics.fetched):
            numbers = sorted(tp.partition for tp in assigned if tp.topic == topic)
            log.info(
                "partitions assigned topic=%s partitions=%s",
                topic,
                ",".join(map(str, numbers)) or "-",
            )
