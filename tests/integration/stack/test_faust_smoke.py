"""The chosen stack works end to end on the real broker: Faust creates its topics, an agent
consumes what aiokafka produces, and a table's state survives a worker restart through
recovery from its changelog topic."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

# Run as a module of the tests package (from the repository root), not as a script: a script's
# folder comes first on sys.path, and tests/support/pipeline.py would shadow the pipeline package.
REPO = Path(__file__).resolve().parents[3]
SMOKE_APP = "tests.support.smoke_app"


def start_worker(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    log = open(workdir / f"worker-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 - closed with process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            SMOKE_APP,
            "worker",
            "--without-web",
            "--loglevel",
            os.environ.get("SMOKE_LOGLEVEL", "warn"),
        ],  # debug to see the fetches
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()


async def read_counts(
    consumer: AIOKafkaConsumer,
    worker: subprocess.Popen[bytes],
    seen: dict[str, list[str]],
    until: dict[str, int],
    deadline_s: float,
) -> None:
    """Collect published counts until every key in `until` has that many values, or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while any(len(seen[k]) < n for k, n in until.items()):
        assert worker.poll() is None, f"worker exited early with code {worker.returncode}"
        assert loop.time() < deadline, f"agent output incomplete after {deadline_s}s: {dict(seen)}"
        batches = await consumer.getmany(timeout_ms=500)
        for messages in batches.values():
            for message in messages:
                seen[message.key.decode()].append(message.value.decode())


async def test_agent_consumes_and_table_recovers_after_restart(
    kafka_broker: str, kafka_producer: AIOKafkaProducer, unique_name: str, tmp_path: Path
) -> None:
    in_topic, out_topic = f"{unique_name}-in", f"{unique_name}-out"
    env = {
        **os.environ,
        "SMOKE_APP_ID": unique_name,
        "SMOKE_BROKER": f"kafka://{kafka_broker}",
        "SMOKE_IN_TOPIC": in_topic,
        "SMOKE_OUT_TOPIC": out_topic,
    }
    # Created up front with the partition count the app declares, as orgsync creates its topics.
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 2, 1) for t in (in_topic, out_topic)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        out_topic,
        bootstrap_servers=kafka_broker,
        auto_offset_reset="earliest",
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    seen: dict[str, list[str]] = defaultdict(list)
    worker = start_worker(env, tmp_path)
    try:
        for key in ["a", "a", "b", "a", "b"]:
            await kafka_producer.send_and_wait(in_topic, key=key.encode(), value=b"event")
        await read_counts(consumer, worker, seen, {"a": 3, "b": 2}, deadline_s=90)
        assert seen == {"a": ["1", "2", "3"], "b": ["1", "2"]}
        stop_worker(worker)
        assert worker.returncode == 0, f"worker exit code {worker.returncode}"

        worker = start_worker(env, tmp_path)
        await kafka_producer.send_and_wait(in_topic, key=b"a", value=b"event")
        await read_counts(consumer, worker, seen, {"a": 4}, deadline_s=90)
        # 4, not 1: the new worker rebuilt the table from its changelog topic.
        assert seen["a"] == ["1", "2", "3", "4"]
    finally:
        stop_worker(worker)
        await consumer.stop()
