"""A running `orgsync run` and a real Prometheus (Debian's package) for the monitoring tests."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.deployment import free_port

ROOT = Path(__file__).parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
_METRIC = re.compile(r"\borgsync_[a-z0-9_]+\b")
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "summary": ("_sum", "_count", "_created"),
}


def dashboard_metrics() -> dict[str, set[str]]:
    """Metric names each dashboard's PromQL expressions query, by panel title."""
    import orjson

    found: dict[str, set[str]] = {}
    for path in DASHBOARDS.glob("*.json"):
        for panel in orjson.loads(path.read_bytes())["panels"]:
            names = {n for t in panel["targets"] for n in _METRIC.findall(t["expr"])}
            found[f"{path.name}: {panel['title']}"] = names
    return found


def exposed_names(text: str) -> set[str]:
    """Every sample name `/metrics` can carry, also for labelled metrics not observed yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in _SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


async def wait_for(
    check: Callable[[], Awaitable[Any]], within: float, what: str, log: Path | None = None
) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}\n{tail(log)}")
        await asyncio.sleep(0.2)


def tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


class Process:
    """A subprocess logging to a file; `stop()` sends SIGTERM and returns the exit code."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, within: float = 30.0) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=within)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


def orgsync_run(config: Path, env: dict[str, str], log: Path, role: str = "all") -> Process:
    return Process(
        [
            sys.executable,
            "-m",
            "orgsync.cli",
            "run",
            "--config",
            str(config),
            "--role",
            role,
            "--log-format",
            "json",
            "--log-level",
            "info",
        ],
        log,
        env,
    )


def prometheus(workdir: Path, target: str) -> tuple[Process, str]:
    """Debian's prometheus (installed by .ci/run) scraping `target` every second."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: .ci/run installs Debian's package"
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "orgsync",
                        "metrics_path": "/metrics",
                        "static_configs": [{"targets": [target]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    process = Process(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        workdir / "prometheus.log",
    )
    return process, f"http://127.0.0.1:{port}"


async def query(http: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    """The result vector of an instant PromQL query (empty while Prometheus is not ready)."""
    try:
        async with http.get(f"{base}/api/v1/query", params={"query": promql}) as response:
            if response.status != 200:
                return []
            body = await response.json()
    except aiohttp.ClientConnectionError:
        return []
    result: list[dict[str, Any]] = body["data"]["result"]
    return result
