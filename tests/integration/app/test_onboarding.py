"""Onboarding as docs/zoho-setup.md §6 promises (issue 28, item 6), real broker and emulated
orgs: a target "Acme Ltd " (padded, other case) is a link for `plan` and is bound by the sync,
never duplicated; afterwards `plan` does not count the differences `fill_empty` kept as
updates; `plan` counts the Deal that `currency: reject` dead-letters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.deployment import ORIGIN_FIELD, Worker, org_config, records, target_modules
from orgsync_kernel.topics import Topics
from tests.support.cli import orgsync
from tests.support.pipeline import (
    client,
    read_dead_letters,
    wait_until,
    worker_env,
    write_config,
)
from zoho_emulator import Emulator

ORIGIN = "Origin_Record_Id"
ORGS = ("src", "tgt")


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    modules = {**target_modules(), "Deals": {"fields": [ORIGIN_FIELD]}}
    inr = {"home": "INR", "currencies": [{"iso_code": "USD", "exchange_rate": 0.012}]}
    return {
        "src": {**org_config("src", "in", modules), "currency": inr},
        "tgt": org_config("tgt", "us", modules),  # no multi-currency: USD only
    }


def plan_of(result: Any, module: str) -> dict[str, Any]:
    [route] = result.json()["routes"]
    found: dict[str, Any] = route["modules"][module]
    return found


async def test_padded_names_link_kept_values_stay_unchanged_and_rejects_are_counted(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    workers: list[Worker],
) -> None:
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    [acme] = await src.insert("Accounts", [{"Account_Name": "Acme Ltd", "Phone": "555 0100"}])
    await tgt.insert("Accounts", [{"Account_Name": "  ACME LTD ", "Phone": "555 0199"}])
    [deal] = await src.insert(
        "Deals", [{"Deal_Name": "Mumbai", "Stage": "Qualification", "Amount": 8300000.0}]
    )
    modules = {
        "Accounts": {"match_field": ORIGIN, "link_existing": ["Account_Name"]},
        "Deals": {"match_field": ORIGIN},
    }
    route = {"source": "src", "target": "tgt", "modules": modules}  # currency: reject
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ORGS, [route]
    )
    env = worker_env(ORGS)

    before = await orgsync("plan", "--config", config, "--format", "json", env=env)
    assert before.code == 0, before.err
    accounts, deals = plan_of(before, "Accounts"), plan_of(before, "Deals")
    assert (accounts["link"], accounts["create"]) == (1, 0)
    assert (deals["rejected"], deals["create"]) == (1, 0)
    [reject] = deals["samples"]["rejected"]
    assert reject["source_id"] == str(deal.id) and "INR" in reject["reason"]
    text = await orgsync("plan", "--config", config, env=env)
    assert "REJECTED" in text.out and "dead-letter" in text.out

    worker = Worker(config, env, tmp_path)
    workers.append(worker)
    worker.start()
    result = await orgsync("backfill", "--config", config, "--route", "src:tgt", env=env)
    assert result.code == 0, result.err

    async def bound() -> bool:
        return any(r.get(ORIGIN) == str(acme.id) for r in records(emu, "tgt", "Accounts"))

    await wait_until(bound, 60, "the padded account bound", worker)
    [account] = records(emu, "tgt", "Accounts")  # bound, not duplicated
    assert (account["Account_Name"], account["Phone"]) == ("  ACME LTD ", "555 0199")
    [letter] = await read_dead_letters(kafka_broker, Topics(unique_name).dlq, expect=1)
    assert letter.key == f"src/Deals/{deal.id}" and letter.stage == "transform"
    assert records(emu, "tgt", "Deals") == []

    after = await orgsync("plan", "--config", config, "--format", "json", env=env)
    assert after.code == 0, after.err
    accounts = plan_of(after, "Accounts")
    assert (accounts["update"], accounts["unchanged"], accounts["create"]) == (0, 1, 0)
    [same] = accounts["samples"]["unchanged"]
    assert same["kept"]["Phone"] == {"from": "555 0199", "to": "555 0100"}
