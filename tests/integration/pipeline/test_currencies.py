"""Money means the same money in both orgs (issue 17): an INR Deal into USD orgs."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import ORIGIN, ORIGIN_FIELD, org_config, records
from orgsync_kernel.topics import Topics
from tests.support.pipeline import client, read_dead_letters, send_hints, wait_until
from zoho_emulator import Emulator

ORGS = ("src", "has_inr", "converts", "rejects")
DEALS = {"Deals": {"match_field": ORIGIN}}


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    def org(name: str, dc: str, currency: dict[str, Any] | None) -> dict[str, Any]:
        config = org_config(name, dc, {"Deals": {"fields": [ORIGIN_FIELD]}})
        return {**config, "currency": currency} if currency else config

    inr = {"iso_code": "INR", "exchange_rate": 83.0}
    return {
        "src": org(
            "src",
            "in",
            {"home": "INR", "currencies": [{"iso_code": "USD", "exchange_rate": 0.012}]},
        ),
        "has_inr": org("has_inr", "us", {"home": "USD", "currencies": [inr]}),
        "converts": org("converts", "us", {"home": "USD"}),
        "rejects": org("rejects", "us", None),  # no multi-currency: USD only
    }


async def test_an_inr_deal_is_carried_converted_or_dead_lettered_per_route(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    kafka_broker: str,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    routes = [
        {"source": "src", "target": "has_inr", "modules": DEALS},
        {"source": "src", "target": "converts", "currency": "convert", "modules": DEALS},
        {"source": "src", "target": "rejects", "modules": DEALS},
    ]
    worker = make_worker(routes, orgs=ORGS)
    worker.start()
    src = await client(emu, "src", session)
    deal = {"Deal_Name": "Mumbai", "Stage": "Qualification", "Amount": 100000.0}
    deal_id = str((await src.insert("Deals", [deal]))[0].id)
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Deals", [deal_id], "insert")

    def copy(org: str) -> dict[str, Any]:
        return next((r for r in records(emu, org, "Deals") if r.get(ORIGIN) == deal_id), {})

    async def both_written() -> bool:
        return bool(copy("has_inr")) and bool(copy("converts"))

    await wait_until(both_written, 60, "the deal in the two orgs that can take it", worker)
    carried, converted = copy("has_inr"), copy("converts")
    assert (carried["Amount"], carried["Currency"]) == (100000.0, "INR")
    assert carried["Exchange_Rate"] == 83.0  # the target's own rate, not the source's 1
    assert (converted["Amount"], converted["Currency"]) == (1200.0, "USD")
    [letter] = await read_dead_letters(kafka_broker, Topics(unique_name).dlq, expect=1)
    assert letter.route == "src->rejects" and letter.stage == "transform"
    assert "INR" in letter.message and "currency: convert" in letter.message
    assert records(emu, "rejects", "Deals") == []
