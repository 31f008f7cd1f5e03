"""Money fails closed (issue 28 item 1): two single-currency orgs convert with the configured
rate; a target whose currencies cannot be read (a token without `ZohoCRM.org.READ`) gets no
record with amounts, and the dead letter says which scope is missing."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import ORIGIN, ORIGIN_FIELD, org_config, records
from orgsync_kernel.topics import Topics
from tests.support.pipeline import client, read_dead_letters, send_hints, wait_until
from zoho_emulator import Emulator

ORGS = ("src", "converts", "blind")
DEALS = {"Deals": {"match_field": ORIGIN}}
# Everything orgsync needs of a target but `ZohoCRM.org.READ` (settings.ALL covers currencies).
WITHOUT_ORG_READ = ["ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.users.READ"]


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    def org(name: str, dc: str) -> dict[str, Any]:
        return org_config(name, dc, {"Deals": {"fields": [ORIGIN_FIELD]}})

    blind = org("blind", "us")
    blind["clients"][0]["scopes"] = WITHOUT_ORG_READ
    # Zoho's default: no multi-currency; the IN org's home is INR, the US ones' USD.
    return {
        "src": {**org("src", "in"), "currency": {"home": "INR", "enabled": False}},
        "converts": org("converts", "us"),
        "blind": blind,
    }


async def test_single_currency_orgs_convert_and_unreadable_currencies_dead_letter(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    kafka_broker: str,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    routes = [
        {"source": "src", "target": target, "currency": "convert", "modules": DEALS}
        for target in ("converts", "blind")
    ]
    worker = make_worker(routes, orgs=ORGS, exchange_rates={"INR/USD": 0.012})
    worker.start()
    src = await client(emu, "src", session)
    deals = [
        {"Deal_Name": "Mumbai", "Stage": "Qualification", "Amount": 8300000.0},
        {"Deal_Name": "Pune", "Stage": "Qualification"},  # no amount: nothing to settle
    ]
    ids = [str(outcome.id) for outcome in await src.insert("Deals", deals)]
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Deals", ids, "insert")

    def copies(org: str) -> dict[str, dict[str, Any]]:
        return {r[ORIGIN]: r for r in records(emu, org, "Deals") if r.get(ORIGIN) in ids}

    async def settled() -> bool:
        return len(copies("converts")) == 2 and len(copies("blind")) == 1

    await wait_until(settled, 60, "both deals converted, the one without amount in blind", worker)
    assert copies("converts")[ids[0]]["Amount"] == 99600.0  # 8,300,000 INR at 0.012
    [letter] = await read_dead_letters(kafka_broker, Topics(unique_name).dlq, expect=1)
    assert (letter.route, letter.stage, letter.code) == (
        "src->blind",
        "transform",
        "CURRENCY_UNKNOWN",
    )
    assert "org blind" in letter.message and "ZohoCRM.org.READ" in letter.message
    assert letter.key.endswith(ids[0])
    assert list(copies("blind")) == [ids[1]]  # the deal with an amount was never written
