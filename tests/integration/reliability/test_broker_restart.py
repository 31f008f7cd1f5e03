"""Scenario 2: the Kafka broker stops and starts again in the middle of a sync."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.deployment import (
    ACCOUNTS_ROUTE,
    MakeDeployment,
    count,
    mirror,
    patient_client,
    until,
)
from tests.support.cluster import port_free
from tests.support.reliability import (
    QUICK_SINK,
    REPO,
    Row,
    converged,
    paced_accounts,
    record_row,
    scaled,
    start_receiving,
    topic_count,
    webhook,
)
from zoho_emulator import Emulator


class Broker:
    """A throwaway broker of scripts/local-kafka on its own port and directory."""

    def __init__(self, home: Path) -> None:
        self.port = _free_port_pair()
        self.env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_HOME_DIR": str(home)}
        self.address = f"127.0.0.1:{self.port}"

    def run(self, action: str) -> None:
        subprocess.run(
            [str(REPO / "scripts" / "local-kafka"), action],
            env=self.env,
            check=True,
            timeout=120,
            capture_output=True,
        )


def _free_port_pair() -> int:
    """A port below 32000 whose successor (the controller port) is free too."""
    for _ in range(100):
        port = random.randrange(20000, 31000)
        if all(port_free(p) for p in (port, port + 1)):
            return port
    raise RuntimeError("no free port pair")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka")
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


async def test_a_broker_restart_loses_and_duplicates_nothing(
    broker: Broker,
    emu: Emulator,
    make_deployment: MakeDeployment,
    session: aiohttp.ClientSession,
) -> None:
    # `broker` comes first: fixtures stop in reverse order, so orgsync stops before it.
    total = scaled(2000, 600)
    deployment = make_deployment(
        [ACCOUNTS_ROUTE], broker=broker.address, poll_seconds=5, sink=QUICK_SINK
    )
    orgsync = deployment.process("all")
    await start_receiving(orgsync, deployment, emu, session)
    src = await patient_client(emu, "src", session)
    batch = max(1, total // 60)  # paced_accounts' batch
    load = paced_accounts(src, total)  # about 30 s: before, during and after the outage
    await until(
        lambda: count(emu, "tgt", "Accounts") >= total // 4,
        60,
        "a quarter of the records in the target",
        [orgsync],
    )
    await asyncio.to_thread(broker.run, "stop")
    written_at_stop = count(emu, "tgt", "Accounts")
    # While Kafka is down the notifications of new records cannot be made durable: they get
    # 503 and are lost (Zoho does not retry them), so the poller must find those records.
    down_status = await webhook(session, deployment.ingress_url, "1")
    created_at_stop = count(emu, "src", "Accounts")
    await until(
        lambda: count(emu, "src", "Accounts") >= created_at_stop + 2 * batch,
        30,
        "records created while Kafka is down",
        [orgsync],
    )
    created_while_down = count(emu, "src", "Accounts") - created_at_stop
    await asyncio.to_thread(broker.run, "start")
    restarted = time.monotonic()

    async def accepted_again() -> bool:
        return await webhook(session, deployment.ingress_url, "1") == 200

    recovered = await until(accepted_again, 90, "the ingress to accept again", [orgsync])
    await load
    converge, why = await converged(
        lambda: count(emu, "tgt", "Accounts") >= total,
        180,
        "every record after the restart",
        [orgsync],
    )
    result = mirror(emu)
    dlq = await topic_count(broker.address, deployment.topic("dlq"))
    record_row(
        Row(
            scenario="2. broker stop/start mid-sync",
            passed=result.exact and dlq == 0 and down_status == 503 and converge is not None,
            load=(
                f"{total:,} Accounts created over ~30 s, {created_while_down} while Kafka was down"
            ),
            faults=f"broker stopped with {written_at_stop}/{total} written; ingress "
            f"{down_status} while down, 200 again {recovered:.1f}s after restart",
            expected=result.expected,
            found=result.found,
            duplicates=result.duplicates,
            dlq=dlq,
            converge_s=None if converge is None else round(time.monotonic() - restarted, 1),
        )
    )
    assert converge is not None, why
    assert written_at_stop < total and created_while_down > 0
    assert down_status == 503
    assert not result.missing and not result.wrong, (result.missing[:5], result.wrong[:5])
    assert result.duplicates == 0 and result.found == result.expected == total
    assert dlq == 0
