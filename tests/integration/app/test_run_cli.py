"""`orgsync run` (all roles) on fresh topics at the default log level: it starts, syncs a
change and stops on SIGTERM without a warning or an error on stderr and with nothing on stdout
(issue 18: a normal start is quiet)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench.deployment import free_port, records
from orgsync_kernel.topics import Topics
from tests.support.pipeline import client, plain_orgs, send_hints, wait_until, worker_env
from tests.support.pipeline import write_config as write_pipeline_config
from zoho_emulator import Emulator

ORGS = ("src", "tgt")
ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
}


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return plain_orgs()


class Run:
    """`orgsync run` as a subprocess with stdout and stderr in files of their own."""

    def __init__(self, config: Path, workdir: Path) -> None:
        self.config, self.workdir = config, workdir
        self.out, self.err = workdir / "stdout", workdir / "stderr"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.out.open("wb") as stdout, self.err.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "orgsync.cli", "run", "--config", str(self.config)),
                env=worker_env(ORGS),
                cwd=self.workdir,
                stdout=stdout,
                stderr=stderr,
            )

    def running(self) -> bool:
        assert self.process is not None and self.process.returncode is None, self.err.read_text()
        return True

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


async def group_state(broker: str, group: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        [described] = await admin.describe_consumer_groups([group])
        return str(described.groups[0][2])
    finally:
        await admin.close()


async def test_a_normal_start_on_fresh_topics_is_quiet(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    kafka_producer: AIOKafkaProducer,
) -> None:
    port, topics = free_port(), Topics(unique_name)
    config = write_pipeline_config(
        *(tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ORGS, [ROUTE]),
        ingress={"listen": f"127.0.0.1:{port}", "webhook_secret": "${HOOK_SECRET}"},
    )
    run = Run(config, tmp_path)
    await run.start()
    try:

        async def healthy() -> bool:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    return run.running() and response.status == 200
            except aiohttp.ClientError:
                return run.running() and False

        async def worker_joined() -> bool:
            return run.running() and await group_state(kafka_broker, topics.group) == "Stable"

        await wait_until(healthy, 60, "/healthz")
        await wait_until(worker_joined, 60, "the Faust worker in its consumer group")
        [made] = await (await client(emu, "src", session)).insert(
            "Accounts", [{"Account_Name": "Quiet start"}]
        )
        await send_hints(kafka_producer, topics.hints, "src", "Accounts", [str(made.id)])

        async def synced() -> bool:
            names = {r["Account_Name"] for r in records(emu, "tgt", "Accounts")}
            return run.running() and "Quiet start" in names

        await wait_until(synced, 60, "the change in tgt")
    finally:
        code = await run.stop()
    assert code == 0, run.err.read_text()
    assert run.err.read_text() == ""
    assert run.out.read_bytes() == b""
