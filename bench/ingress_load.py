"""How many workflow webhooks per second does the ingress take, and how fast does it answer?

The ingress app (with its real Kafka producer, acks=all) runs in this process, as in
production; the load comes from a separate process over loopback: ``--connections``
keep-alive connections, each sending one JSON webhook after the other for ``--seconds``.
Every 200 answer means the hint was acknowledged by the broker. The topics are unique to
the run and deleted afterwards.

    .venv/bin/python bench/ingress_load.py [--seconds 5] [--connections 32] [--broker H:P]

Prints the numbers and writes bench/results/ingress_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from connectors.ingress import IngressMetrics, StaticChannelTokens, create_app  # noqa: E402
from connectors.kafka import KafkaProducer  # noqa: E402
from connectors.kafka.cluster import KafkaCluster, ensure_topics  # noqa: E402
from orgsync_kernel.settings import Settings  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ingress_load.json"
SECRET = "bench-webhook-secret-0123456789"
PARTITIONS = 8


def _settings(broker: str, prefix: str) -> Settings:
    org = {
        "dc": "us",
        "edition": "enterprise",
        "client_id": "1000.BENCH",
        "client_secret": "bench",
        "refresh_token": "bench",
    }
    return Settings.model_validate(
        {
            "kafka": {"broker": broker, "topic_prefix": prefix, "partitions": PARTITIONS},
            "ingress": {"listen": "127.0.0.1:0", "webhook_secret": SECRET},
            "orgs": {"alpha": org, "beta": org},
            "sync": [
                {
                    "source": "alpha",
                    "target": "beta",
                    "modules": {"Leads": {"match_field": "Origin_Record_Id"}},
                }
            ],
        }
    )


# --- the load process ------------------------------------------------------------------


async def _connection(
    session: aiohttp.ClientSession,
    url: str,
    until: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    headers = {"X-Orgsync-Secret": SECRET}
    while time.perf_counter() < until:
        body = {"module": "Leads", "id": str(random.randrange(10**17, 10**18))}
        started = time.perf_counter()
        async with session.post(url, json=body, headers=headers) as response:
            await response.read()
        latencies.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1


async def _load(url: str, seconds: float, connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            *(_connection(session, url, until, latencies, statuses) for _ in range(connections))
        )
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "statuses": statuses, "elapsed": elapsed}


def load_process(url: str, seconds: float, connections: int) -> dict[str, Any]:
    return asyncio.run(_load(url, seconds, connections))


# --- the ingress process ---------------------------------------------------------------


async def _count(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def _drop_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


async def run(seconds: float, connections: int, broker: str) -> dict[str, Any]:
    settings = _settings(broker, f"bench-ingress-{uuid.uuid4().hex[:8]}")
    bootstrap = broker.removeprefix("kafka://")
    await ensure_topics(KafkaCluster(bootstrap), [settings.topics.hints], PARTITIONS)
    producer = KafkaProducer(KafkaCluster(bootstrap), timeout=5.0)
    await producer.start()
    app = create_app(
        settings, producer, IngressMetrics.create(CollectorRegistry()), StaticChannelTokens()
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/hooks/zoho/alpha"
    try:
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(1) as pool:
            raw = await loop.run_in_executor(pool, load_process, url, seconds, connections)
        produced = await _count(bootstrap, settings.topics.hints)
    finally:
        await runner.cleanup()
        await producer.stop()
        await _drop_topics(bootstrap, [settings.topics.hints])
    return _summary(raw, produced, seconds, connections)


def _summary(
    raw: dict[str, Any], produced: int, seconds: float, connections: int
) -> dict[str, Any]:
    latencies = sorted(raw["latencies"])
    ok = raw["statuses"].get(200, 0)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "seconds": seconds,
        "connections": connections,
        "requests": len(latencies),
        "statuses": {str(k): v for k, v in sorted(raw["statuses"].items())},
        "requests_per_s": round(ok / raw["elapsed"], 1),
        "latency_ms": {
            "p50": round(quantiles[49] * 1000, 2),
            "p99": round(quantiles[98] * 1000, 2),
            "max": round(latencies[-1] * 1000, 2) if latencies else None,
        },
        "hints_in_topic": produced,
        "every_200_produced": produced >= ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--broker", default=f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}")
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.connections, args.broker))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"ingress webhooks: {result['requests_per_s']} req/s over {args.seconds:g}s, "
        f"{args.connections} connections; latency p50 {result['latency_ms']['p50']} ms, "
        f"p99 {result['latency_ms']['p99']} ms; statuses {result['statuses']}; "
        f"hints in topic {result['hints_in_topic']}"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
