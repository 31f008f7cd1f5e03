"""``IngressService``: the HTTP receivers, the channel manager and the poller in one
process, with one explicit lifecycle.

    service = IngressService(settings, clients, registry, extensions=[...])
    await service.start()        # topics, producer, state, HTTP server (with what the
                                 # extensions mount, e.g. the status page), channels, poller
    ...
    await service.stop()         # the reverse order

``clients`` are started ``ZohoClient`` objects by org name (the caller owns them); only the
orgs that some route reads from are polled and watched. Without ``ingress.public_url`` no
Notification API channel is created (webhooks and polling still work).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry

from connectors.zoho import ZohoClient
from orgsync_kernel.settings import Settings

from ..kafka import KafkaCluster, KafkaKV, KafkaProducer, ensure_topics
from .channels import ChannelManager
from .metrics import IngressMetrics
from .poller import Poller
from .refusals import RefusalJournal, Refusals
from .server import ChannelTokens, StaticChannelTokens, create_app

log = logging.getLogger(__name__)
SHUTDOWN_SECONDS = 5.0


class AppExtension(Protocol):
    """Routes that the process running the ingress adds to its HTTP app (the status page)."""

    async def mount(self, app: web.Application, producer: KafkaProducer) -> None: ...

    async def close(self) -> None: ...


class IngressService:
    def __init__(
        self,
        settings: Settings,
        clients: Mapping[str, ZohoClient],
        registry: CollectorRegistry,
        *,
        poll: bool = True,
        watch: bool = True,
        extensions: Sequence[AppExtension] = (),
        produce_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        refusals_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.clients = {org: c for org, c in clients.items() if settings.synced_modules(org)}
        self.registry = registry
        self.metrics = IngressMetrics.create(registry)
        self.cluster = KafkaCluster.of(settings.kafka)
        self.producer = KafkaProducer(self.cluster, timeout=produce_timeout)
        self.clock = clock
        self._poll, self._watch = poll, watch and settings.ingress.public_url is not None
        self.extensions = tuple(extensions)
        self.channels: ChannelManager | None = None
        self.poller: Poller | None = None
        # what the server refused, for the poller to produce (on disk: kept over a restart)
        self.refusals = Refusals(journal=RefusalJournal(refusals_dir) if refusals_dir else None)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The address the server listens on (useful with port 0)."""
        return f"http://{self.settings.ingress.host}:{self.port}"

    async def start(self) -> None:
        kafka = self.settings.kafka
        await ensure_topics(self.cluster, [self.settings.topics.hints], kafka.partitions)
        await self.producer.start()
        tokens: ChannelTokens = StaticChannelTokens()
        if self._watch:
            self.channels = ChannelManager(
                self.settings.ingress.public_url,
                self.settings.watched,
                self.clients,
                await self._kv(self.settings.topics.channels),
                clock=self.clock,
            )
            await self.channels.load()
            tokens = self.channels
        app = create_app(
            self.settings,
            self.producer,
            self.metrics,
            tokens,
            clock=self.clock,
            refused=self.refusals,
        )
        for extension in self.extensions:
            await extension.mount(app, self.producer)
        await self._serve(app)
        if self.channels is not None:
            await self.channels.start()
        if self._poll:
            self.poller = Poller(
                self.settings.poller,
                self.settings.watched,
                self.settings.topics.hints,
                self.clients,
                await self._kv(self.settings.topics.cursors),
                self.producer,
                self.metrics,
                clock=self.clock,
                notes_parents=self.settings.notes_parents,
                deletes=self.settings.synced_deletes,
                refusals=self.refusals,
            )
            await self.poller.start()
        log.info("ingress started on %s (watch=%s, poll=%s)", self.url, self._watch, self._poll)

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.channels is not None:
            await self.channels.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for extension in self.extensions:
            await extension.close()
        await self.producer.stop()

    async def __aenter__(self) -> IngressService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _kv(self, topic: str) -> KafkaKV:
        kv = KafkaKV(self.cluster, topic, self.producer)
        await kv.start()
        return kv

    async def _serve(self, app: web.Application) -> None:
        # a stop waits this long for the requests in flight (aiohttp's default is 60 s, past
        # the 30 s in which a SIGTERM'd process must be gone)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.ingress.host, self.settings.ingress.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the bound port, when the configured one is 0
