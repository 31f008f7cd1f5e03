"""A running orgsync (ingress + worker, emulator, real Kafka) scraped by a real Prometheus.

One webhook makes one record flow src -> tgt. Then: every metric a Grafana panel queries is
in `/metrics`; Prometheus, scraping every second, answers a PromQL query with the hint series;
the JSON log lines parse and hold no secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from bench.deployment import SECRET, count, ingress_ready, org_config, target_modules, worker_env
from bench.deployment import write_config as pipeline_config
from tests.support.monitoring import (
    dashboard_metrics,
    exposed_names,
    free_port,
    orgsync_run,
    prometheus,
    query,
    wait_for,
)
from tests.support.pipeline import client
from zoho_emulator import Emulator

ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    orgs = {
        "src": org_config("src", "in", target_modules()),
        "tgt": org_config("tgt", "us", target_modules()),
    }
    async with Emulator({"orgs": orgs}) as emulator:
        yield emulator


async def test_running_orgsync_is_scraped_and_its_dashboard_metrics_exist(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> None:
    port = free_port()
    config = pipeline_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [ROUTE]
    )
    raw = config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}")
    config.write_text(raw)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "orgsync.log"
    orgsync = orgsync_run(config, worker_env(("src", "tgt")), log)
    scraper, prom = prometheus(tmp_path, f"127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession() as http:
            await wait_for(lambda: ingress_ready(http, base), 60, "the ingress", log)
            src = await client(emu, "src", http)
            [created] = await src.insert("Accounts", [{"Account_Name": "Monitored"}])
            form = {"module": "Accounts", "ids": str(created.id), "operation": "create"}
            async with http.post(f"{base}/hooks/zoho/src?secret={SECRET}", data=form) as answer:
                assert answer.status == 200

            async def synced() -> bool:
                return count(emu, "tgt", "Accounts") == 1

            await wait_for(synced, 60, "the account in tgt", log)

            async def lag_measured() -> str | None:
                async with http.get(f"{base}/metrics") as response:
                    text = await response.text()
                return text if "orgsync_consumer_lag{" in text else None

            text = await wait_for(lag_measured, 30, "the lag gauges", log)
            exposed = exposed_names(text)
            missing = {
                panel: names - exposed
                for panel, names in dashboard_metrics().items()
                if names - exposed
            }
            assert not missing, f"dashboard panels query metrics orgsync does not expose: {missing}"
            assert 'orgsync_hints_total{org="src",source="webhook"} 1.0' in text
            assert 'orgsync_e2e_latency_seconds_count{target="tgt"} 1.0' in text
            assert "record id" not in text and str(created.id) not in text  # bounded labels

            async def scraped() -> list[dict[str, object]]:
                return await query(http, prom, 'orgsync_hints_total{org="src",source="webhook"}')

            [series] = await wait_for(
                scraped, 30, "the hint series in Prometheus", tmp_path / "prometheus.log"
            )
            assert series["value"][1] == "1"  # type: ignore[index]
            [write] = await wait_for(
                lambda: query(http, prom, 'sum by (target) (orgsync_writes_total{target="tgt"})'),
                30,
                "the write series in Prometheus",
            )
            assert write["value"][1] == "1"  # type: ignore[index]
    finally:
        scraper.stop()
        code = orgsync.stop()
    assert code == 0, log.read_text(errors="replace")[-3000:]
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    events = [orjson.loads(line) for line in lines]
    assert any(e["logger"].startswith("connectors.ingress") for e in events)
    assert all({"ts", "level", "logger", "event"} <= e.keys() for e in events)
    assert SECRET not in log.read_text()


async def test_a_worker_without_ingress_serves_its_metrics_on_worker_metrics_listen(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> None:
    """Two processes as in production: the ingress, and a worker whose pipeline metrics (the
    writes it made, the end-to-end latency) only it can expose."""
    port, ingress_port = free_port(), free_port()
    config = pipeline_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [ROUTE]
    )
    raw = config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{ingress_port}")
    config.write_text(raw + f"worker: {{metrics_listen: '127.0.0.1:{port}'}}\n")
    env = worker_env(("src", "tgt"))
    ingress_log, worker_log = tmp_path / "ingress.log", tmp_path / "worker.log"
    ingress = orgsync_run(config, env, ingress_log, role="ingress")
    worker = orgsync_run(config, env, worker_log, role="worker")
    try:
        async with aiohttp.ClientSession() as http:

            async def written() -> str | None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                        text = await response.text()
                except aiohttp.ClientConnectionError:
                    return None
                return (
                    text if 'orgsync_e2e_latency_seconds_count{target="tgt"} 1.0' in text else None
                )

            src = await client(emu, "src", http)
            [created] = await src.insert("Accounts", [{"Account_Name": "Seen by the worker"}])
            await wait_for(
                lambda: ingress_ready(http, f"http://127.0.0.1:{ingress_port}"),
                60,
                "the ingress",
                ingress_log,
            )
            form = {"module": "Accounts", "ids": str(created.id), "operation": "create"}
            async with http.post(
                f"http://127.0.0.1:{ingress_port}/hooks/zoho/src?secret={SECRET}", data=form
            ) as answer:
                assert answer.status == 200
            text = await wait_for(written, 60, "the write in the worker's metrics", worker_log)
            assert "orgsync_writes_total{" in text
            assert count(emu, "tgt", "Accounts") == 1
            assert SECRET not in text
    finally:
        codes = (worker.stop(), ingress.stop())
    assert codes == (0, 0), worker_log.read_text(errors="replace")[-3000:]
