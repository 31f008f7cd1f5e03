"""`orgsync run`: the worker and the ingress, by role.

Roles: `worker` runs pipeline/worker (the round loop of the hot path, and the Faust app of its
cold-path agents); `ingress` runs the ingress service (webhooks,
notifications, channels, poller) from connectors/ingress with the status page of
orgsync_operations mounted on it; `all` runs both in one process.
Several workers with the same configuration share the partitions through Kafka consumer
groups. SIGTERM and SIGINT stop the worker gracefully (exit code 0): the write batches in flight
finish and are recorded first (`DrainingWorker`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from typing import Any

import faust
import mode
from mode import BaseSignalT
from prometheus_client import REGISTRY

from connectors.ingress import IngressService
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.kafka.credit_share import CreditShare
from connectors.kafka.disk import StateDir
from connectors.zoho import ZohoClient, ZohoMetrics
from connectors.zoho.limits import COMMAND_WEIGHT
from orgsync.orgs import (
    credit_share,
    org_connection,
    refusals_dir,
    share_credits,
    state_dir,
)
from orgsync_kernel.settings import Settings
from orgsync_operations.monitoring import CreditsCollector, KafkaMonitor, MetricsServer
from orgsync_operations.offsets import GroupOffsets
from orgsync_operations.status import StatusPage
from pipeline.sync.metrics import PipelineMetrics
from pipeline.worker.agents import Agents
from pipeline.worker.app import Pipeline, create_pipeline
from pipeline.worker.batching import Drain
from pipeline.worker.faust_patches import leader_topic
from pipeline.worker.hot_path import HotPath

log = logging.getLogger(__name__)
ROLES = ("all", "ingress", "worker")
DRAIN_SECONDS = 20.0  # SIGTERM must end the process within 30 s; stopping Faust takes the rest


def create_clients(settings: Settings, metrics: ZohoMetrics) -> dict[str, ZohoClient]:
    return {
        name: ZohoClient(
            org_connection(name, org),
            metrics=metrics,
            metadata_ttl=settings.processor.metadata_refresh_seconds,
        )
        for name, org in settings.orgs.items()
    }


class ClientsService(mode.Service):
    """Starts the Zoho clients with the worker and closes them when it stops; their credit
    ledgers count what the deployment's other processes spend (`share`)."""

    def __init__(
        self,
        clients: Mapping[str, ZohoClient],
        share: CreditShare | None = None,
        weight: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.clients = clients
        self.share = share
        self.weight = weight  # None: a worker, whose claim on the slots follows its partitions
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        await share_credits(self.share, self.clients, self.weight)
        for client in self.clients.values():
            await client.start()

    async def on_stop(self) -> None:
        for client in self.clients.values():
            await client.stop()
        if self.share is not None:
            await self.share.stop()


class IngressAdapter(mode.Service):
    """Runs connectors.ingress.IngressService (or another start/stop object, such as the
    KafkaMonitor) inside the Faust worker or beside the other services."""

    def __init__(self, ingress: Any, **kwargs: Any) -> None:
        self.ingress = ingress
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        await self.ingress.start()

    async def on_stop(self) -> None:
        await self.ingress.stop()


def build_ingress(settings: Settings, clients: Mapping[str, ZohoClient]) -> IngressService:
    """The ingress with the status page and admin API on its port."""
    readers = {org: client for org, client in clients.items() if settings.synced_modules(org)}
    return IngressService(
        settings,
        clients,
        REGISTRY,
        extensions=[StatusPage(settings, REGISTRY, readers)],
        refusals_dir=refusals_dir(settings),
    )


class DrainingWorker(faust.Worker):
    """A Faust worker that, when asked to stop, first lets the batches in flight finish.

    Faust stops the app by cancelling its agents, which would abort an upsert under way and
    lose the links and states of records Zoho already wrote. Here no new batch is taken once
    stopping starts, and the running ones get `DRAIN_SECONDS` to finish and be acknowledged.
    """

    def __init__(self, *args: Any, drain: Drain, **kwargs: Any) -> None:
        self.drain = drain
        # Faust's console (a spinner, "OK ^", "-INT-") would land on stdout or stderr beside
        # orgsync's own log lines; its "Ready" is logged instead when there is no spinner.
        super().__init__(*args, quiet=True, **kwargs)
        self.spinner = None

    async def on_stop(self) -> None:
        running = self.drain.running
        if not await self.drain.close(DRAIN_SECONDS):
            log.warning(
                "stopping with batches still in flight after %.0fs batches=%d",
                DRAIN_SECONDS,
                self.drain.running,
            )
        elif running:
            log.info("drained batches in flight batches=%d", running)
        await super().on_stop()


class QueueBacklog(mode.Service):
    """How many writes wait in a target's queue: the cold-path agents' lag on its topic."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.cluster = KafkaCluster.of(settings.kafka)
        self.group = settings.topics.group
        self.offsets: GroupOffsets | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self.offsets = GroupOffsets(self.cluster, self.group)  # inside the running loop
        await self.offsets.__aenter__()

    async def on_stop(self) -> None:
        if self.offsets is not None:
            await self.offsets.__aexit__(None, None, None)

    async def __call__(self, topic: str) -> int:
        if self.offsets is None:
            raise RuntimeError("the queue backlog is measured only while the worker runs")
        return (await self.offsets.lag([topic])).get(topic, 0)


def build_worker(
    settings: Settings,
    clients: Mapping[str, ZohoClient],
    metrics: PipelineMetrics,
    drain: Drain | None = None,
) -> tuple[Pipeline, list[mode.ServiceT]]:
    """The Faust app of the cold paths and the services that run beside it (in this order)."""
    backlog = QueueBacklog(settings)
    hot_path = HotPath(settings, clients, metrics, backlog, worker_state(settings))
    pipeline = create_pipeline(settings)
    Agents(pipeline, settings, clients, hot_path.store, metrics, drain)
    log_assignments(pipeline)
    return pipeline, [backlog, hot_path]


def worker_state(settings: Settings) -> StateDir | None:
    """The worker's state directory (worker.state_dir), claimed for this process."""
    worker = settings.worker
    if worker.state_dir is False:
        return None
    root = worker.state_dir or state_dir() / "state" / settings.kafka.topic_prefix
    return StateDir.claim(root, worker.instance_id, worker.state_cache_mb << 20)


def log_assignments(pipeline: Pipeline) -> None:
    """One info line per topic of ours after each rebalance: what this worker now consumes
    (`-` for none)."""
    ours = set(pipeline.topic_names())

    async def assigned(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
        partitions: dict[str, list[int]] = {topic: [] for topic in ours}
        for tp in args[0] if args else kwargs.get("assigned", ()):
            if tp.topic in ours:
                partitions[tp.topic].append(tp.partition)
        for topic, numbers in sorted(partitions.items()):
            log.info(
                "partitions assigned topic=%s partitions=%s",
                topic,
                ",".join(map(str, sorted(numbers))) or "-",
            )

    pipeline.app.on_partitions_assigned.connect(assigned)


async def create_topics(settings: Settings, pipeline: Pipeline) -> None:
    kafka, topics = settings.kafka, settings.topics
    names = [topics.hints, topics.fetched, topics.decide, topics.changes, *pipeline.topic_names()]
    cluster = KafkaCluster.of(kafka)
    await ensure_topics(cluster, names, kafka.partitions)
    await ensure_topics(cluster, [leader_topic(pipeline.app)], 1)


def run(settings: Settings, role: str = "all", loglevel: str = "warning") -> int:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    clients = create_clients(settings, ZohoMetrics.create(REGISTRY))
    REGISTRY.register(CreditsCollector(clients))
    # The ingress alone claims a command's share of each org's slots (COMMAND_WEIGHT).
    weight = COMMAND_WEIGHT if role == "ingress" else None
    share = credit_share(settings, "ingress" if role == "ingress" else "worker")
    services: list[mode.ServiceT] = [ClientsService(clients, share, weight)]
    if role in ("all", "ingress"):  # the processes that serve /metrics also measure lag
        services.append(IngressAdapter(build_ingress(settings, clients)))
        services.append(IngressAdapter(KafkaMonitor(settings, REGISTRY)))
    if role == "ingress":
        return _run_services(services)
    if role == "worker" and settings.worker.metrics_listen:
        services.append(IngressAdapter(MetricsServer(settings.worker.metrics_listen, REGISTRY)))
    drain = Drain()
    pipeline, worker_services = build_worker(
        settings, clients, PipelineMetrics.create(REGISTRY), drain
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(create_topics(settings, pipeline))
    worker = DrainingWorker(
        pipeline.app,
        *services,
        *worker_services,
        loop=loop,
        loglevel=loglevel,
        override_logging=False,
        drain=drain,
    )
    worker.execute_from_commandline()
    return 0


def _run_services(services: list[mode.ServiceT]) -> int:
    """The ingress alone: start the services, stop them on SIGTERM/SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        for service in services:
            await service.start()
        try:
            await stop.wait()
        finally:
            for service in reversed(services):
                await service.stop()

    asyncio.run(main())
    return 0
