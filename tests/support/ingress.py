"""Helpers for the ingress tests: settings, topics, a running ingress app, topic readers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from connectors.ingress.metrics import IngressMetrics
from connectors.ingress.server import StaticChannelTokens, create_app
from connectors.kafka import KafkaProducer
from connectors.kafka.cluster import KafkaCluster
from connectors.zoho import BackoffPolicy, OrgConnection, ZohoClient, ZohoMetrics
from orgsync_kernel.settings import Settings

SECRET = "webhook-secret-0123456789abcdef"
CLIENT_ID = "1000.INGRESSCLIENT"
CLIENT_SECRET = "ingress-client-secret-0123456789"
REFRESH_TOKEN = "1000." + "c3" * 16 + "." + "d4" * 16
MODULES = ("Leads", "Contacts")
PARTITIONS = 3
CHANNEL_ID = "1000000068001"
CHANNEL_TOKEN = "channel-token-of-alpha-0123456789"


def make_settings(
    bootstrap: str,
    prefix: str,
    *,
    zoho_url: str = "http://127.0.0.1:9",
    public_url: str | None = None,
    **extra: Any,
) -> Settings:
    org = {
        "dc": "in",
        "edition": "enterprise",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "api_url": zoho_url,
        "accounts_url": zoho_url,
    }
    route = {
        "source": "alpha",
        "target": "beta",
        "modules": {m: {"match_field": "Origin_Record_Id"} for m in MODULES},
    }
    return Settings.model_validate(
        {
            "kafka": {
                "broker": f"kafka://{bootstrap}",
                "topic_prefix": prefix,
                "partitions": PARTITIONS,
            },
            "ingress": {
                "listen": "127.0.0.1:0",
                "public_url": public_url,
                "webhook_secret": SECRET,
            },
            "orgs": {"alpha": org, "beta": org},
            "sync": [route],
            **extra,
        }
    )


def emulator_config(webhook_url: str | None = None) -> dict[str, Any]:
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_tokens": [REFRESH_TOKEN],
    }
    alpha: dict[str, Any] = {"dc": "in", "edition": "enterprise", "clients": [client]}
    if webhook_url is not None:
        alpha["webhooks"] = [
            {"module": "Leads", "on": ["create", "edit"], "url": webhook_url, "body": "form"}
        ]
    return {"access_token_ttl": 7200, "orgs": {"alpha": alpha}}


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


class TopicReader:
    """Reads a topic from the beginning, as decoded JSON values with their keys."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        # a short fetch wait: end_offsets queues behind the fetch in flight
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=20,
        )
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def until(
        self, done: Callable[[list[dict[str, Any]]], bool], within: float = 5.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while not done(self.values()):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; {len(self.seen)} messages: {self.values()[:5]}"
            batch = await self.consumer.getmany(timeout_ms=int(min(left, 0.2) * 1000))
            for messages in batch.values():
                self.seen += [(m.key.decode(), orjson.loads(m.value)) for m in messages]
        return self.values()

    def values(self) -> list[dict[str, Any]]:
        return [value for _, value in self.seen]

    async def count(self) -> int:
        """Messages ever written to the topic (end offsets); exact, no waiting."""
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        ends = await self.consumer.end_offsets(partitions)
        return sum(ends.values())


async def wait_for(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@dataclass
class Ingress:
    url: str
    session: aiohttp.ClientSession
    metrics: IngressMetrics

    async def post(self, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.session.post(self.url + path, **kw) as r:
            body = await r.read()
            return r.status, body

    async def hook(
        self, org: str = "alpha", secret: str | None = SECRET, **kw: Any
    ) -> tuple[int, Any]:
        headers = {"X-Orgsync-Secret": secret} if secret is not None else {}
        headers.update(kw.pop("headers", {}))
        return await self.post(f"/hooks/zoho/{org}", headers=headers, **kw)

    def rejected(self, reason: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "orgsync_ingress_rejected_total", {"reason": reason}
        )
        return value or 0.0

    def hints(self, org: str, source: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "orgsync_hints_total", {"org": org, "source": source}
        )
        return value or 0.0


@asynccontextmanager
async def running_ingress(
    settings: Settings, producer: KafkaProducer | None = None
) -> AsyncIterator[Ingress]:
    """The ingress app on a free port, with static channel tokens and a fresh registry."""
    own = producer is None
    producer = producer or KafkaProducer(KafkaCluster.of(settings.kafka), timeout=5.0)
    if own:
        await producer.start()
    metrics = IngressMetrics.create(CollectorRegistry())
    tokens = StaticChannelTokens({("alpha", CHANNEL_ID): CHANNEL_TOKEN})
    runner, url = await serve(create_app(settings, producer, metrics, tokens))
    try:
        async with aiohttp.ClientSession() as session:
            yield Ingress(url, session, metrics)
    finally:
        await runner.cleanup()
        if own:
            await producer.stop()


def zoho_client(settings: Settings, org: str = "alpha") -> ZohoClient:
    conf = settings.orgs[org]
    connection = OrgConnection(
        name=org,
        dc=conf.dc,
        edition=conf.edition,
        client_id=conf.client_id,
        client_secret=conf.client_secret.get_secret_value(),
        refresh_token=conf.refresh_token.get_secret_value(),
        accounts_url=conf.accounts_url,
        api_url=conf.api_url,
    )
    backoff = BackoffPolicy(max_attempts=4, base=0.01, cap=0.05, throttle_base=0.01)
    return ZohoClient(connection, metrics=ZohoMetrics.create(CollectorRegistry()), backoff=backoff)


def lead(name: str) -> dict[str, Any]:
    return {"Last_Name": name, "Company": "Acme"}
