"""Fixtures of the component and integration tiers: the real Kafka broker and unique names per
test (a plugin that tests/conftest.py registers)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of the broker under test (env ORGSYNC_KAFKA_BROKER, default the local broker on
    KAFKA_PORT)."""
    local_default = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
    broker = os.environ.get("ORGSYNC_KAFKA_BROKER", local_default)
    return broker.removeprefix("kafka://")


@pytest.fixture
async def kafka_broker(kafka_bootstrap: str) -> str:
    """The broker's bootstrap address, after checking that it answers. Fails (never skips) when
    absent."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.describe_cluster()
    except KafkaError as exc:
        pytest.fail(
            f"no Kafka broker answers at {kafka_bootstrap} ({exc!r}); start one with "
            "`scripts/local-kafka start` or set ORGSYNC_KAFKA_BROKER"
        )
    finally:
        await admin.close()
    return kafka_bootstrap


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test run uses, for topics, consumer groups and Faust app ids."""
    test = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")[:40]
    return f"t-{test}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def kafka_producer(kafka_broker: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
