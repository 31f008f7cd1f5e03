"""Helpers for the pipeline tests: two or three emulated orgs, a config, a worker subprocess;
and their fixtures, which the conftest.py of each folder that uses them imports."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from connectors.zoho import BackoffPolicy, OrgConnection, ZohoClient
from orgsync_kernel.events import DeadLetter, Hint
from zoho_emulator import Emulator

SECRET = "secret-0123456789abcdef-secret"
ORIGIN = {"api_name": "Origin_Record_Id", "data_type": "text", "unique": True}


async def ingress_ready(session: aiohttp.ClientSession, url: str) -> bool:
    """True once the ingress at `url` answers /healthz with 200."""
    try:
        async with session.get(f"{url}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def org_config(name: str, dc: str, modules: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "dc": dc,
        "edition": "enterprise",
        "modules": modules or {},
        "users": [
            {"email": f"admin@{name}.example", "name": "Admin"},
            {"email": "shared@example.com", "name": "Shared"},
        ],
        "clients": [
            {
                "client_id": f"1000.{name.upper()}",
                "client_secret": SECRET,
                "refresh_tokens": [f"1000.refresh.{name}.{SECRET}"],
            }
        ],
    }


def target_modules(**extra: dict[str, Any]) -> dict[str, Any]:
    modules = {m: {"fields": [ORIGIN]} for m in ("Accounts", "Contacts", "Leads")}
    for module, fields in extra.items():
        modules[module]["fields"].append(fields)
    return modules


def write_config(
    path: Path,
    emu_url: str,
    broker: str,
    prefix: str,
    orgs: Iterable[str],
    sync: list[dict[str, Any]],
    **overrides: Any,
) -> Path:
    config: dict[str, Any] = {
        "kafka": {"broker": f"kafka://{broker}", "topic_prefix": prefix, "partitions": 4},
        "ingress": {"listen": "127.0.0.1:0", "webhook_secret": "${HOOK_SECRET}"},
        "orgs": {
            name: {
                "dc": "in" if name == "src" else "us",
                "edition": "enterprise",
                "client_id": f"1000.{name.upper()}",
                "client_secret": "${CLIENT_SECRET}",
                "refresh_token": f"${{REFRESH_{name.upper()}}}",
                "api_url": emu_url,
                "accounts_url": emu_url,
            }
            for name in orgs
        },
        "sync": sync,
        "fetch": {"linger_ms": 200},
        "sink": {"linger_ms": 150, "backoff_initial_ms": 200, "backoff_max_ms": 1000},
        "processor": {"parent_wait_seconds": 15},
    }
    config.update(overrides)
    path.write_text(yaml.safe_dump(config))
    return path


def worker_env(orgs: Iterable[str]) -> dict[str, str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "CLIENT_SECRET": SECRET}
    env.update({f"REFRESH_{n.upper()}": f"1000.refresh.{n}.{SECRET}" for n in orgs})
    return env


class Worker:
    """`orgsync run --role ROLE` as a subprocess, logging to a file in the test's tmp dir."""

    def __init__(
        self,
        config: Path,
        env: dict[str, str],
        workdir: Path,
        role: str = "worker",
        log_name: str = "worker.log",
    ) -> None:
        self.config, self.env, self.workdir, self.role = config, env, workdir, role
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / log_name

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orgsync.cli",
                "run",
                "--config",
                str(self.config),
                "--role",
                self.role,
                "--loglevel",
                "info",
            ],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    async def terminate(self, within: float = 30.0) -> int | None:
        """SIGTERM, then wait for the exit without blocking the loop (the emulator runs in it)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"no exit {within}s after SIGTERM:\n{self.log()}")
            await asyncio.sleep(0.05)
        return self.process.returncode

    def log(self, chars: int | None = 4000) -> str:
        text = self.log_path.read_text(errors="replace")
        return text if chars is None else text[-chars:]


def free_port() -> int:
    """A local TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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


def records(emu: Emulator, org: str, module: str) -> list[dict[str, Any]]:
    state = emu.state.orgs[org]
    renderer = state.renderer(module)
    return [renderer.full(r) for r in state.stores[module].records.values()]


def count(emu: Emulator, org: str, module: str) -> int:
    """Records in a module, without rendering them (cheap enough to poll)."""
    return len(emu.state.orgs[org].stores[module].records)


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
    conn = OrgConnection(
        name=name,
        dc="in" if name == "src" else "us",
        edition="enterprise",
        client_id=f"1000.{name.upper()}",
        client_secret=SECRET,
        refresh_token=f"1000.refresh.{name}.{SECRET}",
        accounts_url=emu.url,
        api_url=emu.url,
    )
    zoho = ZohoClient(
        conn, session=session, backoff=BackoffPolicy(max_attempts=3, base=0.01, cap=0.05)
    )
    await zoho.start()
    return zoho


async def send_hints(
    producer: AIOKafkaProducer,
    topic: str,
    org: str,
    module: str,
    ids: Iterable[str],
    operation: str = "update",
) -> None:
    futures = []
    for record_id in ids:
        hint = Hint(
            org=org,
            module=module,
            id=record_id,
            operation=operation,
            source="notification",
            received_at=time.time(),
        )
        futures.append(await producer.send(topic, key=hint.key.encode(), value=hint.dumps()))
    await asyncio.gather(*futures)


async def read_dead_letters(
    broker: str, topic: str, expect: int, within: float = 30.0
) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        deadline = time.monotonic() + within
        while len(letters) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                letters += [DeadLetter.loads(m.value) for m in messages]
    finally:
        await consumer.stop()
    return letters


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


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
