"""Fixtures for the ingress tests: unique topics on the real broker, a running ingress app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.kafka import KafkaProducer
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from orgsync_kernel.settings import Settings
from tests.support.ingress import PARTITIONS, Ingress, TopicReader, make_settings, running_ingress


@pytest.fixture
async def settings(kafka_broker: str, unique_name: str) -> Settings:
    settings = make_settings(kafka_broker, unique_name)
    await ensure_topics(
        KafkaCluster(kafka_broker), settings.topics.pipeline(settings.targets), PARTITIONS
    )
    return settings


@pytest.fixture
async def producer(kafka_broker: str) -> AsyncIterator[KafkaProducer]:
    producer = KafkaProducer(KafkaCluster(kafka_broker), timeout=5.0)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def ingress(settings: Settings, producer: KafkaProducer) -> AsyncIterator[Ingress]:
    async with running_ingress(settings, producer) as ingress:
        yield ingress


@pytest.fixture
async def hints(kafka_broker: str, settings: Settings) -> AsyncIterator[TopicReader]:
    async with TopicReader(kafka_broker, settings.topics.hints) as reader:
        yield reader
