"""Scenario 3: transient Zoho faults on the source and the target at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from bench.deployment import (
    ACCOUNTS_ROUTE,
    MakeDeployment,
    count,
    insert_accounts,
    insist,
    mirror,
    patient_client,
)
from connectors.zoho import ZohoClient
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

ORGS = ("src", "tgt")
POLL_SECONDS = 8.0
STEADY = {
    "error_rate": 0.1,
    "error_status": 500,
    "drop_notifications": 0.3,
    "duplicate_notifications": 0.2,
    "delay_notifications_ms": 1500,
}


@dataclass
class Chaos:
    """Bursts on top of the steady faults: 429s, 2 s latency spikes, revoked access tokens."""

    emu: Emulator
    bursts: int = 0
    spikes: int = 0
    revocations: int = 0

    def set(self, **faults: float) -> None:
        for org in ORGS:
            self.emu.state.orgs[org].faults.merge(faults)

    async def run(self, stop: asyncio.Event) -> None:
        self.set(**STEADY)
        step = 0
        while not stop.is_set():
            step += 1
            if step % 3 == 0:
                self.set(throttle_rate=1.0)
                self.bursts += 1
            elif step % 3 == 1:
                self.set(latency_ms=2000)
                self.spikes += 1
            if step % 4 == 2:
                for org in ORGS:
                    self.emu.state.tokens.revoke_org_access(org)
                self.revocations += 1
            await _pause(stop, 1.0)  # the fault's duration
            self.set(throttle_rate=0.0, latency_ms=0)
            await _pause(stop, 2.0)

    def clear(self) -> None:
        for org in ORGS:
            self.emu.state.orgs[org].faults.clear()

    def describe(self) -> str:
        dropped = self.emu.state.orgs["src"].stats.notifications["dropped"]
        throttled = sum(self.emu.state.orgs[o].stats.throttled for o in ORGS)
        return (
            f"both orgs: 10% 500s, {self.bursts} 429 bursts ({throttled} 429s), "
            f"{self.spikes} 2 s latency spikes, tokens revoked {self.revocations}x; "
            f"notifications: {dropped} dropped (30%), 20% twice, +1.5 s late"
        )


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def generate(src: ZohoClient, total: int) -> list[str]:
    """Creates in batches, then an update of every fifth record (the target must show it)."""
    ids: list[str] = []
    batch = max(10, total // 60)
    for start in range(0, total, batch):
        ids += await insert_accounts(src, range(start, min(start + batch, total)))
        await asyncio.sleep(0.5)  # pacing the load, not waiting for an effect
    updates = [{"id": i, "Tier": "platinum"} for i in ids[::5]]
    for start in range(0, len(updates), 100):
        chunk = updates[start : start + 100]
        await insist(lambda chunk=chunk: src.update("Accounts", chunk))
    return ids


async def test_transient_zoho_faults_on_both_orgs_lose_nothing(
    emu: Emulator,
    make_deployment: MakeDeployment,
    session: aiohttp.ClientSession,
    kafka_broker: str,
) -> None:
    total = scaled(5000, 600)
    deployment = make_deployment([ACCOUNTS_ROUTE], poll_seconds=POLL_SECONDS, sink=QUICK_SINK)
    orgsync = deployment.process("all")
    await start_receiving(orgsync, deployment, emu, session)
    src = await patient_client(emu, "src", session)
    chaos, stop = Chaos(emu), asyncio.Event()
    faults = asyncio.create_task(chaos.run(stop))
    try:
        ids = await generate(src, total)
    finally:
        stop.set()
        await faults
    chaos.clear()
    gap = total - count(emu, "tgt", "Accounts")

    def exact() -> bool:
        return count(emu, "tgt", "Accounts") >= total and mirror(emu).exact

    converge, why = await converged(exact, 120, "every record with its last values", [orgsync])
    result = mirror(emu)
    dlq = await topic_count(kafka_broker, deployment.topic("dlq"))
    record_row(
        Row(
            scenario="3. Zoho faults on both orgs",
            passed=result.exact and dlq == 0 and converge is not None,
            load=f"{total:,} Accounts created over ~30 s, then {len(ids[::5])} updated",
            faults=f"{chaos.describe()}; {gap} records behind at the end of the load",
            expected=result.expected,
            found=result.found,
            duplicates=result.duplicates,
            dlq=dlq,
            converge_s=None if converge is None else round(converge, 1),
        )
    )
    assert converge is not None, why
    assert chaos.bursts and chaos.spikes and chaos.revocations
    assert emu.state.orgs["src"].stats.notifications["dropped"] > 0
    assert result.exact, (result.missing[:5], result.wrong[:5], result.duplicates)
    assert dlq == 0, "transient faults must never reach the DLQ"
    assert converge <= POLL_SECONDS + 15, "the poller closes the gap within its interval"
