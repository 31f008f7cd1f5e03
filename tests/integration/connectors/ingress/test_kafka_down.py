"""Kafka unavailable: the ingress answers 503 (so Zoho retries) and recovers by itself."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.deployment import free_port
from connectors.kafka import KafkaProducer
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from orgsync_kernel.settings import Settings
from tests.support.cluster import port_free
from tests.support.ingress import (
    PARTITIONS,
    SECRET,
    Ingress,
    TopicReader,
    make_settings,
    running_ingress,
)

GOOD = {"module": "Leads", "id": "5150"}
LOCAL_KAFKA = Path(__file__).parents[4] / "scripts" / "local-kafka"


async def _hook_status(ingress: Ingress) -> tuple[int, str | None]:
    headers = {"X-Orgsync-Secret": SECRET}
    async with ingress.session.post(
        ingress.url + "/hooks/zoho/alpha", json=GOOD, headers=headers
    ) as r:
        await r.read()
        return r.status, r.headers.get("Retry-After")


async def _until_status(ingress: Ingress, status: int, within: float) -> float:
    started = time.monotonic()
    while (await _hook_status(ingress))[0] != status:
        assert time.monotonic() - started < within, f"no {status} within {within}s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _relay(broker: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    host, port = broker.rsplit(":", 1)
    up_reader, up_writer = await asyncio.open_connection(host, int(port))

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        dst.close()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)


async def test_503_while_kafka_is_unreachable_then_recovers_when_it_appears(
    settings: Settings, hints: TopicReader, kafka_broker: str
) -> None:
    port = free_port()
    producer = KafkaProducer(KafkaCluster(f"127.0.0.1:{port}"), timeout=2.0, retry_interval=0.2)
    await producer.start()  # does not fail: the ingress serves 503 meanwhile
    async with running_ingress(settings, producer) as ingress:
        assert await _hook_status(ingress) == (503, "5")
        assert ingress.rejected("kafka_unavailable") == 1
        # Kafka "returns" at the configured address: a relay to the real broker
        relay = await asyncio.start_server(
            lambda r, w: _relay(kafka_broker, r, w), "127.0.0.1", port
        )
        try:
            await _until_status(ingress, 200, within=10.0)
        finally:
            relay.close()
        await producer.stop()
    (hint,) = await hints.until(lambda seen: len(seen) >= 1)
    assert hint["id"] == GOOD["id"]


@pytest.fixture
async def throwaway_broker() -> AsyncIterator[tuple[str, Broker]]:
    port = free_port()
    while not port_free(port + 1):  # its controller listens on port + 1
        port = free_port()
    home = tempfile.mkdtemp(prefix="orgsync-kafka-")
    broker = Broker(port, home)
    try:
        await broker.run("start")
        yield f"127.0.0.1:{port}", broker
    finally:
        await broker.run("stop")
        shutil.rmtree(home, ignore_errors=True)


class Broker:
    """A second Kafka broker of our own (never the shared one) that the test stops."""

    def __init__(self, port: int, home: str) -> None:
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(port),
            "KAFKA_HOME_DIR": home,
            "KAFKA_HEAP": "256m",
        }

    async def run(self, action: str) -> None:
        process = await asyncio.create_subprocess_exec(
            str(LOCAL_KAFKA),
            action,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 180)
        assert process.returncode == 0, err.decode()


@pytest.mark.slow
async def test_broker_stopped_mid_run_503_then_recovers_by_itself(
    throwaway_broker: tuple[str, Broker], unique_name: str
) -> None:
    bootstrap, broker = throwaway_broker
    settings = make_settings(bootstrap, unique_name)
    cluster = KafkaCluster(bootstrap)
    await ensure_topics(cluster, settings.topics.pipeline(settings.targets), PARTITIONS)
    producer = KafkaProducer(cluster, timeout=2.0, retry_interval=0.2)
    await producer.start()
    async with running_ingress(settings, producer) as ingress:
        assert (await _hook_status(ingress))[0] == 200
        await broker.run("stop")
        await _until_status(ingress, 503, within=10.0)
        await broker.run("start")
        await _until_status(ingress, 200, within=60.0)
        assert ingress.rejected("kafka_unavailable") >= 1
    await producer.stop()
    async with TopicReader(bootstrap, settings.topics.hints) as hints:
        await hints.until(lambda seen: len(seen) >= 2, within=10.0)
