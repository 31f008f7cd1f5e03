"""Scenario 1: the worker is killed (SIGKILL) at random moments of a sync and restarted."""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp

from bench.deployment import (
    ACCOUNTS_ROUTE,
    MakeDeployment,
    Orgsync,
    count,
    insert_accounts,
    mirror,
    patient_client,
    until,
)
from tests.support.reliability import (
    QUICK_SINK,
    Row,
    converged,
    record_row,
    scaled,
    start_receiving,
    topic_count,
)
from zoho_emulator import Emulator

KILLS = 10
BATCHES = 50
BATCH_EVERY_S = 2.4  # the load lasts about two minutes, across the ten kills (~12 s each)


async def kill_repeatedly(
    worker: Orgsync, emu: Emulator, kills: int, total: int, rng: random.Random
) -> int:
    """Kill -9 and restart `kills` times, each a random moment after the restarted worker
    wrote again; the number of kills before the sync of all `total` records completed."""
    mid_sync = 0
    for _ in range(kills):
        written = count(emu, "tgt", "Accounts")
        try:
            await until(
                lambda w=written: count(emu, "tgt", "Accounts") > w,
                60,
                "the restarted worker to write again",
                [worker],
            )
            await asyncio.sleep(rng.uniform(0.0, 1.5))  # a random moment, not a sync point
        except AssertionError:
            if not worker.alive():
                raise
        mid_sync += count(emu, "tgt", "Accounts") < total
        print(f"kill at {time.monotonic():.1f}: {count(emu, 'tgt', 'Accounts')} written")
        worker.kill()
        worker.start()
    return mid_sync


async def test_a_worker_killed_ten_times_leaves_every_record_once(
    emu: Emulator,
    make_deployment: MakeDeployment,
    session: aiohttp.ClientSession,
    kafka_broker: str,
) -> None:
    total = scaled(5000, 1000)
    rng = random.Random()
    deployment = make_deployment([ACCOUNTS_ROUTE], poll_seconds=10, sink=QUICK_SINK)
    ingress, worker = deployment.process("ingress"), deployment.process("worker")
    await start_receiving(ingress, deployment, emu, session)
    worker.start()
    src = await patient_client(emu, "src", session)
    batch = max(1, total // BATCHES)

    async def generate() -> None:
        for start in range(0, total, batch):
            await insert_accounts(src, range(start, min(start + batch, total)))
            await asyncio.sleep(BATCH_EVERY_S)  # pacing the load, not waiting for an effect

    load = asyncio.create_task(generate())
    mid_sync = await kill_repeatedly(worker, emu, KILLS, total, rng)
    await load
    loaded_at = time.monotonic()
    converge, why = await converged(
        lambda: count(emu, "tgt", "Accounts") >= total,
        240,
        "every record in the target",
        [worker, ingress],
    )
    result = mirror(emu)
    dlq = await topic_count(kafka_broker, deployment.topic("dlq"))
    record_row(
        Row(
            scenario="1. worker kill -9 + restart",
            passed=result.exact and dlq == 0 and converge is not None,
            load=f"{total:,} Accounts created over ~{BATCHES * BATCH_EVERY_S:.0f} s",
            faults=(
                f"{worker.starts - 1} kill -9 of the worker ({mid_sync} before the sync completed)"
            ),
            expected=result.expected,
            found=result.found,
            duplicates=result.duplicates,
            dlq=dlq,
            converge_s=None if converge is None else round(time.monotonic() - loaded_at, 1),
            note=f"missing after 240 s: {', '.join(result.missing[:5])}" if why else "",
        )
    )
    assert converge is not None, why
    assert worker.starts - 1 >= KILLS
    assert mid_sync >= KILLS - 1, "the kills must happen during the sync"
    assert result.expected == total
    assert not result.missing and not result.wrong, (result.missing[:5], result.wrong[:5])
    assert result.duplicates == 0 and result.found == total
    assert dlq == 0
