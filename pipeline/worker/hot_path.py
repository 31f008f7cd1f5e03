"""What a worker runs beside Faust's cold-path agents: the state and the round loop.

    worker = HotPath(settings, clients, metrics, backlog)   # a mode.Service
    Agents(pipeline, settings, clients, worker.store, metrics, drain)   # share its state

`backlog(topic)` tells how many writes wait in a target's queue (the runner measures the
cold-path agents' lag); a target goes back to direct writes when it is 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
import mode
from aiokafka import AIOKafkaProducer

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.disk import StateDir
from connectors.zoho import ZohoClient
from orgsync_kernel.events import hint_for
from orgsync_kernel.settings import Settings
from pipeline.sync.drift import Drift
from pipeline.sync.metadata import Metadata
from pipeline.sync.metrics import PipelineMetrics
from pipeline.sync.processor import Processor
from pipeline.worker.loop import RoundLoop
from pipeline.worker.round import RoundSteps
from pipeline.worker.state import PipelineState
from pipeline.worker.targets import TargetWriter, target_sink

log = logging.getLogger(__name__)

PRODUCER_LINGER_MS = 5
RECONCILE_SECONDS = 5.0  # how often pairs that still differ are read again
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


class HotPath(mode.Service):
    def __init__(
        self,
        settings: Settings,
        clients: Mapping[str, ZohoClient],
        metrics: PipelineMetrics,
        backlog: Callable[[str], Awaitable[int]],
        disk: StateDir | None = None,
        **kwargs: Any,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.metrics = metrics
        self.backlog = backlog
        self.cluster = KafkaCluster.of(settings.kafka)
        self.store = PipelineState(
            self.cluster,
            settings.topics,
            settings.kafka.partitions,
            disk,
            local_orgs=set(settings.orgs),
            orgs=list(settings.orgs),
        )
        self.producer: AIOKafkaProducer | None = None
        self.rounds: RoundLoop | None = None
        super().__init__(**kwargs)

    def _drifted(self, org: str, module: str, drifts: list[Drift]) -> None:
        """Nothing silent: a field that changed under a route is said once, and counted."""
        for drift in drifts:
            self.metrics.schema_drift.labels(org, module, drift.kind).inc()
            log.warning(
                "schema drift org=%s module=%s field=%s kind=%s detail=%s (orgsync check explains)",
                org,
                module,
                drift.field,
                drift.kind,
                drift.detail,
            )

    def _round_loop(self, producer: AIOKafkaProducer) -> RoundLoop:
        settings, clients, store = self.settings, self.clients, self.store
        metadata = Metadata(clients, on_drift=self._drifted)
        processor = Processor(
            settings, metadata, store.fingerprints, store.links, store.states, store.states.holds
        )
        direct = settings.sink.direct_write_timeout_seconds
        writers = {
            org: TargetWriter(
                org,
                target_sink(org, settings, clients, store, self.metrics),
                settings.topics.writes(org),
                self._produce,
                self.backlog,
                direct,
                self.metrics.target_state,
            )
            for org in settings.targets
        }
        return RoundLoop(
            RoundSteps(settings, clients, processor, store, producer, writers, self.metrics)
        )

    async def _produce(self, topic: str, key: str, value: faust.Record) -> Awaitable[Any]:
        assert self.producer is not None
        ack: Awaitable[Any] = await self.producer.send(topic, value=value.dumps(), key=key.encode())
        return ack

    async def on_start(self) -> None:
        rounds = await self.prepare()
        await rounds.start()
        self.add_future(rounds.run())  # supervised: if it fails, the worker stops
        self.add_future(self._reconcile())

    async def _reconcile(self) -> None:
        """Anti-entropy: a two-way pair that still differs is hinted again (and read again,
        both sides) until it agrees; one that does not settle is counted and named."""
        assert self.rounds is not None
        processor, hints = self.rounds.steps.processor, self.settings.topics.hints
        while not self.should_stop:
            await self.sleep(RECONCILE_SECONDS)
            for key in processor.divergence.due():
                await self._produce(hints, key, hint_for(key, "reconcile", time.time()))
            for first, second, fields in processor.divergence.newly_diverged():
                log.warning(
                    "diverged %s and %s still differ on %s after resolution",
                    first,
                    second,
                    ",".join(fields),
                )
            self.metrics.diverged_records.set(len(processor.divergence.diverged()))
            self.metrics.quarantined_records.set(len(processor.guard.held()))

    async def prepare(self) -> RoundLoop:
        """Topics, producer and state ready, the round loop built but not consuming."""
        kafka, topics = self.settings.kafka, self.settings.topics
        await ensure_topics(
            self.cluster,
            [topics.hints, topics.fetched, topics.decide, topics.changes],
            kafka.partitions,
        )
        await self.store.create_topics()
        self.producer = self.cluster.producer(
            linger_ms=PRODUCER_LINGER_MS,
            max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        )
        await self.producer.start()
        await self.store.start(self.producer)
        self.rounds = self._round_loop(self.producer)
        await self.rounds.steps.processor.metadata.warm(self.settings)
        return self.rounds

    async def on_stop(self) -> None:
        if self.rounds is not None:
            await self.rounds.stop()
        await self.store.stop()
        if self.producer is not None:
            await self.producer.stop()
