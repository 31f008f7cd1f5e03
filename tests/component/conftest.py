"""The component tier: the Faust agents of pipeline/agents.py driven one at a time through
`agent.test_context()`, with the in-process emulator as the orgs and the real broker beneath
the app's producer (the agents produce through `app.producer.send`, see
pipeline/faust_patches.py:produce, so the producer must be started against a broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from bench.deployment import ACCOUNTS_ROUTE, org_config, target_modules, worker_env, write_config
from connectors.zoho import ZohoMetrics
from orgsync.runner import create_clients
from orgsync_kernel.config_file import load_settings
from pipeline.agents import Agents
from pipeline.app import create_pipeline
from pipeline.metrics import PipelineMetrics
from tests.support.agents import Stage
from zoho_emulator import Emulator


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    orgs = {
        "src": org_config("src", "in", target_modules()),
        "tgt": org_config("tgt", "us", target_modules()),
    }
    async with Emulator({"orgs": orgs}) as emulator:
        yield emulator


@pytest.fixture
async def stage(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> AsyncIterator[Stage]:
    orgs = ("src", "tgt")
    config = write_config(
        tmp_path / "orgsync.yaml",
        emu.url,
        kafka_broker,
        unique_name,
        orgs,
        [ACCOUNTS_ROUTE],
        fetch={"linger_ms": 0},
        # a failed read gives up within a second (the DLQ test)
        sink={"linger_ms": 0, "max_attempts": 3, "backoff_initial_ms": 10, "backoff_max_ms": 50},
    )
    settings = load_settings(config, worker_env(orgs))
    pipeline = create_pipeline(settings, app_id=unique_name)
    clients = create_clients(settings, ZohoMetrics.create(CollectorRegistry()))
    agents = Agents(pipeline, settings, clients, PipelineMetrics.create(CollectorRegistry()))
    app = pipeline.app
    await app.producer.start()
    topics = [
        pipeline.hints,
        pipeline.changes,
        pipeline.held,
        pipeline.dlq,
        *pipeline.writes.values(),
        *(t.changelog_topic for t in app.tables.values()),
    ]
    for topic in topics:
        await topic.maybe_declare()
    try:
        yield Stage(settings, pipeline, agents, kafka_broker)
    finally:
        await app.producer.stop()
        for client in clients.values():
            await client.stop()
