"""Every place where orgsync reaches into faust-streaming's (or aiokafka's) private names.

Faust 0.15 loses or repeats records around rebalances and recoveries, and its per-message
send path is slow; the fixes below depend on names that are not Faust's public API. They are
kept here, and only here, so an upgrade has one file to check (faust-streaming is pinned below
its next minor version in pyproject.toml; tests/unit/pipeline/worker/test_faust_patches.py fails
when one of these names disappears). The private names touched:

- `faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._create_worker_consumer`, and the
  aiokafka consumer's `_fetch_max_wait_ms` it sets (read by `AIOKafkaConsumer.start()`);
- `faust.transport.drivers.aiokafka.Consumer`: `_new_consumer_thread`, `_is_changelog_tp`,
  `_getmany`, `_thread` (its `seek_to_beginning`), overriding `resume_partitions`,
  `pause_partitions`, `perform_seek`, `resume_flow`, `seek_to_committed`;
- `faust.transport.drivers.aiokafka.Producer._settings_extra` (idempotence outside
  transactions);
- `faust.App._new_transport` (`FaustApp`);
- `faust.App._leader_assignor` and its `_leader_topic_name` (`leader_topic`);
- `faust.App.producer.send(topic, key, value, partition, timestamp, headers)` (`produce`), the
  producer beneath `Topic.send`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as kafka_driver

# Faust's worker consumer asks the broker to hold an empty fetch for 1.5 s. aiokafka leaves the
# partitions that still have buffered records out of the next fetch, so records arriving there
# wait for the pending fetch to time out: with several partitions, every batch stalled ~1.5 s.
FETCH_MAX_WAIT_MS = 50


class _ConsumerThread(kafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by AIOKafkaConsumer.start()
        return consumer


class _Consumer(kafka_driver.Consumer):
    """Faust's consumer, but a stream partition is handed to the agents only once it was
    sought to its committed offset and the flow of messages was resumed.

    After a rebalance Faust resumes the stream partitions, seeks them to their committed
    offsets, and only then resumes the flow (faust/tables/recovery.py). A record fetched
    before the seek reached the agents and was then rewound under the running fetcher:
    delivered twice or not at all. A record fetched between the seek and the flow's resumption
    was dropped by the fetch loop (flow suspended) with no seek left to read it again: a
    restarted worker skipped the first change of a partition. Here the stream partitions that
    Faust resumes stay inactive until both `perform_seek` and `resume_flow` have run.
    """

    _unsought: frozenset[Any] = frozenset()  # resumed by Faust, not yet sought
    _awaiting_flow: frozenset[Any] = frozenset()  # sought, waiting for the flow to resume

    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def resume_partitions(self, tps: Any) -> None:
        tps = set(tps)
        streams = {tp for tp in tps if not self._is_changelog_tp(tp)}
        self._unsought = self._unsought | streams
        super().resume_partitions(tps - streams)

    def pause_partitions(self, tps: Any) -> None:
        tps = set(tps)
        self._unsought = self._unsought - tps
        self._awaiting_flow = self._awaiting_flow - tps
        super().pause_partitions(tps)

    async def perform_seek(self) -> None:
        try:
            await super().perform_seek()
        finally:
            self._awaiting_flow = self._awaiting_flow | self._unsought
            self._unsought = frozenset()
            if self.flow_active:
                self._activate_sought_partitions()

    def resume_flow(self) -> None:
        super().resume_flow()
        self._activate_sought_partitions()

    def _activate_sought_partitions(self) -> None:
        sought, self._awaiting_flow = self._awaiting_flow, frozenset()
        super().resume_partitions(sought & set(self.assignment()))

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:  # noqa: ASYNC109
        """Fetch for a snapshot of the active partitions. Faust passes its live set, and
        aiokafka reads an empty set as "every partition": when the set emptied during the wait
        (the changelogs paused at the end of a recovery), aiokafka handed out records of
        inactive stream partitions, Faust discarded them, and the position stayed past them."""
        if active_partitions is not None:
            active_partitions = frozenset(active_partitions)
        return await super()._getmany(active_partitions, timeout)

    async def seek_to_committed(self) -> Any:
        """Also rewind the stream partitions that have no committed offset (or 0) to their
        beginning. Faust drops fetched records that it cannot hand to a stream at that moment
        (a partition paused meanwhile, a rebalance starting) and relies on this seek to read
        them again; aiokafka seeks only to a committed offset above 0, so on a partition that
        was never committed (a worker killed before its first commit there) the position
        stayed past the dropped records, and they were never processed."""
        committed = await super().seek_to_committed()
        uncommitted = [
            tp for tp, offset in committed.items() if not offset and not self._is_changelog_tp(tp)
        ]
        if uncommitted:
            await self._thread.seek_to_beginning(*uncommitted)
        return committed


class _Producer(kafka_driver.Producer):
    """Idempotent outside transactions too (Faust enables it only inside them): a send retried
    after a lost acknowledgement, e.g. when a partition leader fails over, is not written twice."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _Transport(kafka_driver.Transport):
    Consumer = _Consumer
    Producer = _Producer


class FaustApp(faust.App):
    """faust.App whose Kafka transport creates the consumer above: every Faust service of
    orgsync (and the stack's smoke test) runs on it. `dead_letters`: the DLQ topic, for what
    its topics cannot decode (pipeline/worker/app.py)."""

    dead_letters = ""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


async def produce(app: faust.App, topic: str, key: str, value: faust.Record) -> Awaitable[Any]:
    """Produce through the app's producer: `Topic.send` yields to the loop several times per
    message (its producer start-up guard), which dominated the worker's CPU. Faust flushes
    this producer before it commits offsets, so the acknowledgement order holds. Returns the
    broker's acknowledgement to await."""
    delivery: Awaitable[Any] = await app.producer.send(
        topic, key.encode(), value.dumps(), None, None, None
    )
    return delivery


def leader_topic(app: faust.App) -> str:
    """The topic Faust's partition assignor creates for itself (one partition); orgsync creates
    it first, so that it gets the cluster's replication settings like every other topic."""
    assignor: Any = app._leader_assignor
    name: str = assignor._leader_topic_name
    return name
