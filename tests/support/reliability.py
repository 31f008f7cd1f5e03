"""Helpers for the reliability suite: scale, a running ingress, topic counts, results.

bench/deployment.py (shared with the soak) provides the emulated orgs, the config writer, the
orgsync processes of any role with a public ingress URL for Notification API callbacks, the load
and the mirror check that counts duplicates; this module adds what the scenarios need on top:
the load scale, an ingress with its channel subscribed, and the results file behind
docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.deployment import (
    SECRET,
    Deployment,
    Orgsync,
    channels_ready,
    ingress_ready,
    insert_accounts,
    until,
)
from connectors.zoho import ZohoClient
from zoho_emulator import Emulator
from zoho_emulator.notifications import hub_of

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "reliability.json"
SCALE_ENV = "ORGSYNC_RELIABILITY_SCALE"
# A sink that retries soon after a fault, so that the scenarios converge within seconds.
QUICK_SINK: dict[str, Any] = {"linger_ms": 100, "backoff_initial_ms": 200, "backoff_max_ms": 2000}


def scale() -> float:
    """1.0 (the default, which CI runs) = the issue's full loads; less for a quick look."""
    return float(os.environ.get(SCALE_ENV, "1.0"))


def scaled(full: int, minimum: int) -> int:
    return max(minimum, int(full * scale()))


# --- orgsync processes ---------------------------------------------------------------------------


async def converged(
    check: Any,
    within: float,
    what: str,
    procs: Iterable[Orgsync] = (),
) -> tuple[float | None, str]:
    """As `until`, but a timeout is a result: (None, why), so the row is still recorded."""
    try:
        return await until(check, within, what, procs), ""
    except AssertionError as error:
        return None, str(error)


@dataclass
class RunningIngress:
    """`orgsync run --role ingress` with its Notification API channel subscribed."""

    deployment: Deployment
    process: Orgsync
    broker: str
    channel_id: str
    token: str

    @property
    def url(self) -> str:
        return self.deployment.ingress_url

    async def hints(self) -> int:
        return await topic_count(self.broker, self.deployment.topic("hints"))


async def start_receiving(
    process: Orgsync, deployment: Deployment, emu: Emulator, session: aiohttp.ClientSession
) -> None:
    """Start an orgsync process that runs the ingress; return once it answers and its
    Notification API channel for the source org is subscribed."""
    process.start()
    await until(
        lambda: ingress_ready(session, deployment.ingress_url), 60, "the ingress", [process]
    )
    await until(lambda: channels_ready(emu), 30, "the notification channel", [process])


async def start_ingress(
    emu: Emulator, deployment: Deployment, broker: str, session: aiohttp.ClientSession
) -> RunningIngress:
    process = deployment.process("ingress")
    await start_receiving(process, deployment, emu, session)
    [sub] = hub_of(emu.app, "src").active()
    assert sub.token is not None
    return RunningIngress(deployment, process, broker, sub.channel_id, sub.token)


# --- load ----------------------------------------------------------------------------------------


def paced_accounts(src: ZohoClient, total: int, batches: int = 60) -> asyncio.Task[None]:
    """Creates `total` Accounts in the source in `batches` batches half a second apart (about
    30 s of load, so that a fault lands in its middle); the task ends with the last batch."""
    size = max(1, total // batches)

    async def generate() -> None:
        for start in range(0, total, size):
            await insert_accounts(src, range(start, min(start + size, total)))
            await asyncio.sleep(0.5)  # pacing the load, not waiting for an effect

    return asyncio.create_task(generate())


async def webhook(session: aiohttp.ClientSession, url: str, record_id: str) -> int:
    """The status the ingress at `url` answers a source Accounts webhook with."""
    async with session.post(
        f"{url}/hooks/zoho/src",
        headers={"X-Orgsync-Secret": SECRET},
        json={"module": "Accounts", "id": record_id},
    ) as response:
        await response.read()
        return response.status


# --- checks --------------------------------------------------------------------------------------


async def topic_count(broker: str, topic: str) -> int:
    """Messages ever written to `topic` (0 if it does not exist)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()  # a topic created after start
            partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


# --- results ------------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    load: str
    faults: str
    expected: int
    found: int
    duplicates: int
    dlq: int
    converge_s: float | None
    passed: bool = False
    note: str = ""
    scale: float = field(default_factory=scale)
    at: float = field(default_factory=time.time)


def record_row(row: Row) -> None:
    """Add or replace this scenario's row in bench/results/reliability.json."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rows = orjson.loads(RESULTS.read_bytes()) if RESULTS.exists() else {}
    rows[row.scenario] = asdict(row)
    RESULTS.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def random_delays(count: int, low: float, high: float, seed: int | None = None) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(low, high) for _ in range(count)]
