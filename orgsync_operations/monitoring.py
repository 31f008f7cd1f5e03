"""Metrics that are measured rather than counted: consumer lag, DLQ size, Zoho credits left.

- `KafkaMonitor` measures, every `interval` seconds, the lag of the pipeline's consumer group per
  topic (end offset − committed offset) and the open DLQ entries (dead letters not yet retried or
  purged, as `orgsync dlq list` shows them; orgsync_operations/dlq.py), into gauges. It never
  joins the group. Any process can run it (the group is cluster-wide state); `orgsync run`
  runs it wherever the ingress serves `/metrics`.
- `CreditsCollector` reads each Zoho client's credit ledger at scrape time.
- `MetricsServer` serves `/metrics` for a process without the ingress (`--role worker`).

Labels are bounded: `topic` is one of the pipeline's configured topics, `org` a configured org.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from connectors.kafka import KafkaError, KafkaProducer
from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable
from orgsync_kernel.settings import Settings, parse_listen
from orgsync_operations.dlq import DlqStore
from orgsync_operations.offsets import GroupOffsets
from orgsync_operations.periodic import Periodic

log = logging.getLogger(__name__)


class KafkaGauges(NamedTuple):
    lag: Gauge
    dlq: Gauge
    last_measured: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> KafkaGauges:
        return cls(
            lag=Gauge(
                "orgsync_consumer_lag",
                "Messages of a topic the pipeline's consumer "
                "group has not committed yet (end offset - committed offset)",
                ["topic"],
                registry=registry,
            ),
            dlq=Gauge(
                "orgsync_dlq_entries",
                "Open DLQ entries (dead letters not retried or purged)",
                registry=registry,
            ),
            last_measured=Gauge(
                "orgsync_kafka_measured_timestamp_seconds",
                "When lag and DLQ size were last measured",
                registry=registry,
            ),
        )


class KafkaMonitor:
    """Measures lag and DLQ size periodically; `start`/`stop`."""

    def __init__(
        self, settings: Settings, registry: CollectorRegistry, interval: float = 5.0
    ) -> None:
        self.cluster = KafkaCluster.of(settings.kafka)
        self.consumers = settings.topics.consumers(settings.targets)
        # reads only; the producer it is given for marking entries is never started
        self.dlq = DlqStore(settings, KafkaProducer(self.cluster), keep_done=False)
        self._dlq_ready = False
        self.gauges = KafkaGauges.create(registry)
        self._every = Periodic(self._measure_or_warn, interval, "orgsync-kafka-monitor")

    async def start(self) -> None:
        self._every.start()

    async def stop(self) -> None:
        await self._every.stop()
        await self.dlq.close()

    async def measure(self) -> None:
        for group, topics in self.consumers.items():
            async with GroupOffsets(self.cluster, group) as offsets:
                lag = await offsets.lag(topics)
            for topic in topics:
                self.gauges.lag.labels(topic=topic).set(lag.get(topic, 0))
        if not self._dlq_ready:
            await self.dlq.start()  # creates the DLQ topics when missing, reads them
            self._dlq_ready = True
        else:
            await self.dlq.refresh()  # only what is new since the last time
        self.gauges.dlq.set(len(self.dlq.entries()))
        self.gauges.last_measured.set_to_current_time()

    async def _measure_or_warn(self) -> None:
        try:
            await self.measure()
        except (KafkaError, KafkaUnavailable, TimeoutError, OSError) as error:
            log.warning("kafka monitor could not measure error=%s", type(error).__name__)


class CreditsCollector(Collector):
    """`orgsync_zoho_credits_remaining`, `_budget`, `_reserve` per org from the ledgers, and
    what waits at the reserve: `orgsync_credit_waiters`, `orgsync_credit_wait_seconds_total`."""

    def __init__(self, clients: Mapping[str, Any]) -> None:
        self.clients = clients

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        remaining = GaugeMetricFamily(
            "orgsync_zoho_credits_remaining",
            "API credits left in the rolling 24 h window (our ledger, aligned with Zoho's "
            "X-API-CREDITS-REMAINING)",
            labels=["org"],
        )
        budget = GaugeMetricFamily(
            "orgsync_zoho_credits_budget",
            "API credits per rolling 24 h configured for the org",
            labels=["org"],
        )
        reserve = GaugeMetricFamily(
            "orgsync_zoho_credits_reserve",
            "Credits kept for live traffic: backfills and the poller wait below it",
            labels=["org"],
        )
        waiters = GaugeMetricFamily(
            "orgsync_credit_waiters",
            "Calls of this process held at the credit reserve now (backfill, plan)",
            labels=["org"],
        )
        waited = CounterMetricFamily(
            "orgsync_credit_wait_seconds",
            "Seconds this process's calls were held at the credit reserve, summed over calls",
            labels=["org"],
        )
        for org, client in sorted(self.clients.items()):
            ledger = client.ledger
            remaining.add_metric([org], ledger.remaining())
            budget.add_metric([org], ledger.budget)
            reserve.add_metric([org], ledger.reserve)
            waiters.add_metric([org], ledger.waiters)
            waited.add_metric([org], ledger.waited)
        yield from (remaining, budget, reserve, waiters, waited)


class MetricsServer:
    """`GET /metrics` of `registry` on `listen` (host:port; port 0 picks a free one)."""

    def __init__(self, listen: str, registry: CollectorRegistry) -> None:
        self.host, self.port = parse_listen(listen)
        self.registry = registry
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        log.info("worker metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
