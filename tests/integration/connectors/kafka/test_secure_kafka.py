"""The SASL_SSL broker of tests/support/secure_kafka.py takes a SCRAM client over TLS and refuses
a wrong password (issue 19, part 3)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from tests.support.secure_kafka import SecureBroker


def secure(broker: SecureBroker, password: str | None = None) -> dict[str, object]:
    return {
        "bootstrap_servers": broker.bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": broker.mechanism,
        "sasl_plain_username": broker.username,
        "sasl_plain_password": password or broker.password,
        "ssl_context": create_ssl_context(cafile=str(broker.cafile)),
        "request_timeout_ms": 10000,
    }


async def test_scram_client_produces_and_consumes_over_tls(sasl_ssl_broker: SecureBroker) -> None:
    assert sasl_ssl_broker.password not in sasl_ssl_broker.output
    topic = f"t-secure-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**secure(sasl_ssl_broker))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**secure(sasl_ssl_broker), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"over TLS", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, **secure(sasl_ssl_broker), auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await consumer.getone()
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"k", b"over TLS")


async def test_wrong_password_is_refused(
    sasl_ssl_broker: SecureBroker, caplog: pytest.LogCaptureFixture
) -> None:
    producer = AIOKafkaProducer(**secure(sasl_ssl_broker, password="not-the-password"))
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
    # The refusal, not an unreachable broker: aiokafka logs the broker's SASL error.
    assert "invalid credentials" in caplog.text, caplog.text
