"""``IngressService``: the HTTP receivers, the channel manager and the poller in one
process, with one explicit lifecycle.

    service = IngressService(settings, clients, registry)
    await service.start()        # topics, producer, state, HTTP server (with the status
                                 # page and admin API, status.py), channels, poller
    ...
    await service.stop()         # the reverse order

``clients`` are started ``ZohoClient`` objects by org name (the caller owns them); only the
orgs that some route reads from are polled and watched. Without ``ingress.public_url`` no
Notification API channel is created (webhooks and polling still work).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType

from aiohttp import web
from prometheus_client import CollectorRegistry

from connectors.zoho import ZohoClient
from pipeline.dlq import DlqStore
from pipeline.settings import Settings

from ..kafka import KafkaKV, KafkaProducer, bootstrap_servers, ensure_topics
from .channels import ChannelManager
from .metrics import IngressMetrics
from .poller import Poller
from .server import ChannelTokens, StaticChannelTokens, create_app
from .status import Access, Status, mount_status

log = logging.getLogger(__name__)


def channels_topic(settings: Settings) -> str:
    return f"{settings.kafka.topic_prefix}.channels"


def cursors_topic(settings: Settings) -> str:
    """Poller cursors and backfill progress (keys ``poll/…`` and ``backfill/…``)."""
    return f"{settings.kafka.topic_prefix}.cursors"


class IngressService:
    def __init__(
        self,
        settings: Settings,
        clients: Mapping[str, ZohoClient],
        registry: CollectorRegistry,
        *,
        poll: bool = True,
        watch: bool = True,
        status: bool = True,
        produce_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clients = {org: c for org, c in clients.items() if settings.synced_modules(org)}
        self.registry = registry
        self.metrics = IngressMetrics.create(registry)
        self.bootstrap = bootstrap_servers(settings.kafka.broker)
        self.producer = KafkaProducer(self.bootstrap, timeout=produce_timeout)
        self.clock = clock
        self._poll, self._watch = poll, watch and settings.ingress.public_url is not None
        self._status = status
        self.dlq: DlqStore | None = None
        self.channels: ChannelManager | None = None
        self.poller: Poller | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The address the server listens on (useful with port 0)."""
        return f"http://{self.settings.ingress.host}:{self.port}"

    async def start(self) -> None:
        kafka = self.settings.kafka
        await ensure_topics(self.bootstrap, [self.settings.topics.hints], kafka.partitions,
                            kafka.replication_factor)
        await self.producer.start()
        tokens: ChannelTokens = StaticChannelTokens()
        if self._watch:
            self.channels = ChannelManager(self.settings, self.clients,
                                           await self._kv(channels_topic(self.settings)),
                                           clock=self.clock)
            await self.channels.load()
            tokens = self.channels
        app = create_app(self.settings, self.producer, self.metrics, tokens, clock=self.clock)
        if self._status:
            await self._mount_status(app)
        await self._serve(app)
        if self.channels is not None:
            await self.channels.start()
        if self._poll:
            self.poller = Poller(self.settings, self.clients,
                                 await self._kv(cursors_topic(self.settings)), self.producer,
                                 self.metrics, clock=self.clock)
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
        if self.dlq is not None:
            await self.dlq.close()
        await self.producer.stop()

    async def __aenter__(self) -> IngressService:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def _mount_status(self, app: web.Application) -> None:
        """The status page and admin API (connectors/ingress/status.py) on the same port."""
        self.dlq = DlqStore(self.settings, self.producer, keep_done=False)
        await self.dlq.start()
        mount_status(app, Status(self.settings, self.registry, self.dlq, self.clients,
                                 Access.of(self.settings)))

    async def _kv(self, topic: str) -> KafkaKV:
        kv = KafkaKV(self.bootstrap, topic, self.producer,
                     replication=self.settings.kafka.replication_factor)
        await kv.start()
        return kv

    async def _serve(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.ingress.host, self.settings.ingress.port)
        await site.start()
        server = site._server  # the bound port, when the configured one is 0
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.ingress.port
