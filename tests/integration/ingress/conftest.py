"""Fixtures for the ingress tests: unique topics on the real broker, a running ingress app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from ingress_support import (
    CHANNEL_ID,
    CHANNEL_TOKEN,
    PARTITIONS,
    Ingress,
    TopicReader,
    make_settings,
    serve,
)
from prometheus_client import CollectorRegistry

from connectors.ingress.metrics import IngressMetrics
from connectors.ingress.server import StaticChannelTokens, create_app
from connectors.kafka import KafkaProducer, ensure_topics
from pipeline.settings import Settings


@pytest.fixture
async def settings(kafka_broker: str, unique_name: str) -> Settings:
    settings = make_settings(kafka_broker, unique_name)
    await ensure_topics(kafka_broker, settings.topics, PARTITIONS, 1)
    return settings


@pytest.fixture
async def producer(kafka_broker: str) -> AsyncIterator[KafkaProducer]:
    producer = KafkaProducer(kafka_broker, timeout=5.0)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def ingress(settings: Settings, producer: KafkaProducer) -> AsyncIterator[Ingress]:
    metrics = IngressMetrics.create(CollectorRegistry())
    tokens = StaticChannelTokens({("alpha", CHANNEL_ID): CHANNEL_TOKEN})
    runner, url = await serve(create_app(settings, producer, metrics, tokens))
    async with aiohttp.ClientSession() as session:
        yield Ingress(url, session, metrics)
    await runner.cleanup()


@pytest.fixture
async def hints(kafka_broker: str, settings: Settings) -> AsyncIterator[TopicReader]:
    async with TopicReader(kafka_broker, settings.topics.hints) as reader:
        yield reader
