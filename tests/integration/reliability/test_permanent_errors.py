"""Scenario 4: records the target rejects for good go to the DLQ, the rest flows; after the
data is fixed, `orgsync dlq retry --all` completes them (through the CLI, its stable interface)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson
import pytest

from bench.deployment import (
    ACCOUNTS_ROUTE,
    Deployment,
    MakeDeployment,
    count,
    insert_accounts,
    mirror,
    org_config,
    patient_client,
    records,
    target_modules,
    until,
)
from tests.support.reliability import Row, record_row, scaled, start_receiving, topic_count
from zoho_emulator import Emulator

TIER = {"api_name": "Tier", "data_type": "text"}


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    """The target requires a Tier; the source does not."""
    return {
        "src": org_config("src", "in", target_modules(Accounts=TIER)),
        "tgt": org_config("tgt", "us", target_modules(Accounts={**TIER, "mandatory": True})),
    }


async def open_entries(deployment: Deployment) -> list[dict[str, Any]]:
    listed = await deployment.cli("dlq", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    entries: list[dict[str, Any]] = orjson.loads(listed.stdout)
    return entries


async def test_rejected_records_are_dead_lettered_and_retried_after_the_fix(
    emu: Emulator,
    make_deployment: MakeDeployment,
    session: aiohttp.ClientSession,
    kafka_broker: str,
) -> None:
    good_n, bad_n = scaled(1000, 200), scaled(100, 20)
    deployment = make_deployment(
        [ACCOUNTS_ROUTE], sink={"linger_ms": 100, "backoff_initial_ms": 200}
    )
    orgsync = deployment.process("all")
    await start_receiving(orgsync, deployment, emu, session)
    src = await patient_client(emu, "src", session)
    good: list[str] = []
    bad: list[str] = []
    step = good_n // bad_n
    for n in range(bad_n):  # the rejected ones in between the good ones
        good += await insert_accounts(src, range(n * step, (n + 1) * step))
        bad += await insert_accounts(src, range(good_n + n, good_n + n + 1), tier=None)
    dlq_topic = deployment.topic("dlq")

    async def settled() -> bool:
        return (
            count(emu, "tgt", "Accounts") >= len(good)
            and await topic_count(kafka_broker, dlq_topic) >= bad_n
        )

    await until(settled, 90, "the good records in the target, the bad ones in the DLQ", [orgsync])
    entries = await open_entries(deployment)
    assert sorted(e["key"] for e in entries) == sorted(f"src/Accounts/{i}" for i in bad)
    assert {(e["stage"], e["code"], e["route"]) for e in entries} == {
        ("write", "MANDATORY_NOT_FOUND", "src->tgt")
    }
    assert {str(r["Origin_Record_Id"]) for r in records(emu, "tgt", "Accounts")} == set(good)

    # Fix the data where no notification tells orgsync (only the retry can bring it over).
    emu.state.orgs["src"].faults.merge({"drop_notifications": 1.0})
    for start in range(0, bad_n, 100):
        await src.update("Accounts", [{"id": i, "Tier": "fixed"} for i in bad[start : start + 100]])
    retried_at = time.monotonic()
    retry = await deployment.cli("dlq", "retry", "--all")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    await until(
        lambda: count(emu, "tgt", "Accounts") >= good_n + bad_n,
        90,
        "the retried records in the target",
        [orgsync],
    )
    converge = time.monotonic() - retried_at
    result = mirror(emu)
    left = await open_entries(deployment)
    record_row(
        Row(
            scenario="4. permanent errors + dlq retry",
            passed=result.exact and not left,
            load=f"{good_n:,} good + {bad_n} rejected Accounts",
            faults=f"{bad_n} records missing a mandatory field (MANDATORY_NOT_FOUND), fixed in "
            "the source unnoticed, then `orgsync dlq retry --all`",
            expected=result.expected,
            found=result.found,
            duplicates=result.duplicates,
            dlq=len(entries),
            converge_s=round(converge, 1),
        )
    )
    assert result.exact, (result.missing[:5], result.wrong[:5], result.duplicates)
    assert left == [], "retried entries leave the list"
