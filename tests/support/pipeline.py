"""Helpers for the pipeline tests: a Zoho client of an emulated org, hints, dead letters, polls;
and their fixtures, which the conftest.py of each folder that uses them imports. The emulated
orgs, the config writer and the worker subprocess are bench/deployment.py's (the soak uses them
too)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.deployment import (
    Worker,
    emulator_client,
    org_config,
    target_modules,
    worker_env,
    write_config,
)
from connectors.zoho import BackoffPolicy, ZohoClient
from orgsync_kernel.events import DeadLetter, Hint
from zoho_emulator import Emulator


async def wait_until(
    check: Callable[[], Awaitable[bool]], within: float, what: str, worker: Worker | None = None
) -> float:
    """Poll `check` until it is true; fail after `within` seconds. Returns the seconds taken."""
    start = time.monotonic()
    while not await check():
        if worker is not None and not worker.alive() and worker.process is not None:
            raise AssertionError(f"worker exited ({worker.process.returncode}):\n{worker.log()}")
        if time.monotonic() - start > within:
            log = worker.log() if worker else ""
            raise AssertionError(f"timed out after {within}s waiting for {what}\n{log}")
        await asyncio.sleep(0.2)
    return time.monotonic() - start


def by_field(rows: list[dict[str, Any]], name: str) -> dict[Any, dict[str, Any]]:
    return {row[name]: row for row in rows}


def calls(emu: Emulator, org: str, method_path: str) -> int:
    """API calls of every client to `METHOD /crm/v8/...` paths ending like `method_path`."""
    total = 0
    for per_client in emu.state.orgs[org].stats.calls.values():
        total += sum(
            n
            for key, n in per_client.items()
            if key.endswith(method_path) and key.split(" ")[0] == method_path.split(" ")[0]
        )
    return total


async def client(emu: Emulator, name: str, session: aiohttp.ClientSession) -> ZohoClient:
    return await emulator_client(
        emu, name, session, BackoffPolicy(max_attempts=3, base=0.01, cap=0.05)
    )


async def send_hints(
    producer: AIOKafkaProducer,
    topic: str,
    org: str,
    module: str,
    ids: Iterable[str],
    operation: str = "update",
    source: str = "notification",
) -> None:
    futures = []
    for record_id in ids:
        hint = Hint(
            org=org,
            module=module,
            id=record_id,
            operation=operation,
            source=source,
            received_at=time.time(),
        )
        futures.append(await producer.send(topic, key=hint.key.encode(), value=hint.dumps()))
    await asyncio.gather(*futures)


async def read_messages(
    broker: str, topic: str, enough: Callable[[list[Any]], bool], within: float = 30.0
) -> list[Any]:
    """The messages of `topic` from its beginning, read until `enough(messages)` or `within`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + within
        while not enough(found) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            found += [message for messages in batches.values() for message in messages]
    finally:
        await consumer.stop()
    return found


async def read_dead_letters(
    broker: str, topic: str, expect: int, within: float = 30.0
) -> list[DeadLetter]:
    messages = await read_messages(broker, topic, lambda found: len(found) >= expect, within)
    return [DeadLetter.loads(m.value) for m in messages]


async def wait_for_key(broker: str, topic: str, key: str, within: float = 30.0) -> None:
    """Wait until `topic` holds a message keyed `key`."""

    def holds(found: list[Any]) -> bool:
        return any(m.key == key.encode() for m in found)

    if not holds(await read_messages(broker, topic, holds, within)):
        raise AssertionError(f"no message keyed {key} in {topic} within {within}s")


@contextlib.asynccontextmanager
async def notifier(
    emu: Emulator,
    producer: AIOKafkaProducer,
    topic: str,
    modules: Iterable[str],
    orgs: Iterable[str] = ("src", "tgt"),
) -> AsyncIterator[None]:
    """Every write in these orgs (ours included) becomes a hint, as Zoho's notifications do."""

    watched = frozenset(modules)

    async def forward() -> None:
        seen = dict.fromkeys(orgs, 0)
        while True:
            for org in seen:
                log = emu.state.orgs[org].write_log
                for entry in log[seen[org] :]:
                    if entry["module"] in watched:
                        op = "delete" if entry["op"] == "delete" else "update"
                        await send_hints(producer, topic, org, entry["module"], [entry["id"]], op)
                seen[org] = len(log)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(forward())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def plain_orgs() -> dict[str, Any]:
    """src, tgt and tgt2 without the pipeline tests' Tier fields."""
    return {
        "src": org_config("src", "in", target_modules()),
        "tgt": org_config("tgt", "us", target_modules()),
        "tgt2": org_config("tgt2", "us", target_modules()),
    }


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return {
        "src": org_config(
            "src", "in", target_modules(Accounts={"api_name": "Tier", "data_type": "text"})
        ),
        "tgt": org_config(
            "tgt",
            "us",
            target_modules(Accounts={"api_name": "Tier", "data_type": "text", "mandatory": True}),
        ),
        "tgt2": org_config("tgt2", "us", target_modules()),
    }


@pytest.fixture
async def emu(emulator_orgs: dict[str, Any]) -> AsyncIterator[Emulator]:
    async with Emulator({"orgs": emulator_orgs}) as emulator:
        yield emulator


MakeWorker = Callable[..., Worker]


@pytest.fixture
async def make_worker(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> AsyncIterator[MakeWorker]:
    workers: list[Worker] = []

    def make(
        sync: list[dict[str, Any]],
        orgs: tuple[str, ...] = ("src", "tgt"),
        log_name: str = "worker.log",
        **overrides: Any,
    ) -> Worker:
        config = write_config(
            tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, orgs, sync, **overrides
        )
        worker = Worker(config, worker_env(orgs), tmp_path, log_name=log_name)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        if worker.alive():
            code = await worker.terminate()
            assert code == 0, f"worker exit code {code} on SIGTERM:\n{worker.log()}"
