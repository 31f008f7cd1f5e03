"""Every process that calls Zoho shares the deployment's credits and each org's concurrency
slots (issue 28, item 5; real broker, emulated orgs): `orgsync init` and `orgsync plan` publish
their spend to the credits topic, where a worker's ledger counts it; a command beside a worker
takes a command's share of the slots (and the worker makes room), and gives them back when it
stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.kafka.cluster import KafkaCluster
from connectors.kafka.compacted import CompactedReader, CompactedTable
from connectors.kafka.credit_share import CreditShare
from connectors.zoho import ZohoClient
from orgsync.orgs import deployment_clients, org_connection, share_credits
from orgsync_kernel.config_file import load_settings
from orgsync_kernel.settings import Settings
from orgsync_kernel.topics import Topics
from tests.support.cli import orgsync
from tests.support.pipeline import plain_orgs, wait_until, worker_env, write_config
from zoho_emulator import Emulator

ORGS = ("src", "tgt")
SLOTS = 20  # an enterprise org


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return plain_orgs()


@pytest.fixture
def config(emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path) -> Path:
    route = {
        "source": "src",
        "target": "tgt",
        "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
    }
    return write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ORGS, [route]
    )


@pytest.fixture
def settings(config: Path) -> Settings:
    return load_settings(config, worker_env(ORGS))


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[ZohoClient]:
    """A worker's src client owning every partition, in the deployment's share."""
    client = ZohoClient(org_connection("src", settings.orgs["src"]))
    share = CreditShare(KafkaCluster.of(settings.kafka), settings.topics.credits, role="worker")
    await share_credits(share, {"src": client}, weight=None)
    await client.limiter.share(1.0)
    async with client:
        yield client
    await share.stop()


async def published(broker: str, topic: str) -> dict[str, int]:
    """Per process key, the src credits it published."""
    table = CompactedTable(topic, followed=False)
    await CompactedReader(KafkaCluster(broker)).load(table, [0])
    return {
        key: sum(int(n) for n in value.values())
        for key, value in table.items()
        if key.startswith("src|") and isinstance(value, dict)
    }


async def test_commands_publish_their_spend_and_the_worker_counts_it(
    config: Path, kafka_broker: str, unique_name: str, worker: ZohoClient
) -> None:
    env = worker_env(ORGS)
    topic = Topics(unique_name).credits
    started = await orgsync(
        "init", "--config", config, "--route", "src:tgt", "--modules", "Accounts", env=env
    )
    assert started.code == 0, started.err
    by_init = await published(kafka_broker, topic)
    assert len(by_init) == 1 and sum(by_init.values()) >= 2  # fields and users of src at least
    planned = await orgsync("plan", "--config", config, env=env)
    assert planned.code == 0, planned.err
    by_both = await published(kafka_broker, topic)
    assert len(by_both) == 2  # init's process and plan's

    async def counted() -> bool:
        return worker.ledger.used() == sum(by_both.values())

    await wait_until(counted, 15, "the worker's ledger counting the commands' credits")


async def test_a_command_beside_a_worker_takes_a_commands_share_of_the_slots(
    settings: Settings, worker: ZohoClient
) -> None:
    assert worker.limiter.allowed == SLOTS
    async with deployment_clients(settings, ["src"], "dlq retry") as clients:
        command = clients["src"]
        assert command.limiter.allowed == SLOTS // 5  # 0.25 / (0.25 + the worker's 1)

        async def room_made() -> bool:
            return worker.limiter.allowed == SLOTS - SLOTS // 5  # 1 / 1.25

        await wait_until(room_made, 15, "the worker making room for the command")
        await asyncio.gather(*(command.users() for _ in range(3)))
        await asyncio.gather(
            *(command.query("select id from Accounts", limit=1) for _ in range(12))
        )
        assert command.limiter.high_water <= SLOTS // 5

    async def given_back() -> bool:
        return worker.limiter.allowed == SLOTS

    await wait_until(given_back, 15, "the worker taking every slot again")
