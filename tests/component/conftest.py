"""The component tier: the worker's parts driven one at a time with the in-process emulator as
the orgs and the real broker beneath them: the round loop's `process` (no consumer: the test
hands it the messages of a round) and the cold-path Faust agents through `agent.test_context()`
(the agents produce through `app.producer.send`, so the app's producer is started)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from bench.deployment import ACCOUNTS_ROUTE, org_config, target_modules, worker_env, write_config
from connectors.zoho import ZohoMetrics
from orgsync.runner import create_clients
from orgsync_kernel.config_file import load_settings
from pipeline.sync.metrics import PipelineMetrics
from pipeline.worker.agents import Agents
from pipeline.worker.app import create_pipeline
from pipeline.worker.hot_path import HotPath
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


async def empty_queue(topic: str) -> int:
    return 0


@pytest.fixture
async def stage(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path, request: Any
) -> AsyncIterator[Stage]:
    orgs = ("src", "tgt")
    marker = request.node.get_closest_marker("route")
    route = {**ACCOUNTS_ROUTE, "modules": marker.args[0]} if marker else ACCOUNTS_ROUTE
    config = write_config(
        tmp_path / "orgsync.yaml",
        emu.url,
        kafka_broker,
        unique_name,
        orgs,
        [route],
        fetch={"linger_ms": 0},
        # a failed read gives up within a second (the DLQ test)
        sink={"linger_ms": 0, "max_attempts": 3, "backoff_initial_ms": 10, "backoff_max_ms": 50},
    )
    settings = load_settings(config, worker_env(orgs))
    clients = create_clients(settings, ZohoMetrics.create(CollectorRegistry()))
    for zoho in clients.values():
        await zoho.start()
    metrics = PipelineMetrics.create(CollectorRegistry())
    hot = HotPath(settings, clients, metrics, empty_queue)
    rounds = await hot.prepare()
    await hot.store.own(range(settings.kafka.partitions))
    pipeline = create_pipeline(settings, app_id=unique_name)
    agents = Agents(pipeline, settings, clients, hot.store, metrics)
    app = pipeline.app
    await app.producer.start()
    for topic in [pipeline.held, pipeline.dlq, *pipeline.writes.values()]:
        await topic.maybe_declare()
    try:
        yield Stage(settings, pipeline, agents, rounds, hot.store, kafka_broker)
    finally:
        await app.producer.stop()
        await hot.on_stop()
        for client in clients.values():
            await client.stop()
