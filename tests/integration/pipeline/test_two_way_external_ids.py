"""Two-way Leads set up as docs/zoho-setup.md §3 says (an external-id field in each org): an
edit made to the copy flows back into the original, by id, without stamping the original's
match field, creating a record or dead-lettering; likewise from a spoke of a hub and spoke."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.deployment import ORIGIN, records
from orgsync_kernel.topics import Topics
from tests.support.pipeline import MakeWorker, client, notifier, read_messages, wait_until
from zoho_emulator import Emulator

FIELDS = ["Last_Name", "Company", "Phone", "Description"]


def both_ways(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    leads = {"Leads": {"match_field": ORIGIN, "fields": FIELDS}}
    return [
        {"source": a, "target": b, "modules": leads} for x, y in pairs for a, b in ((x, y), (y, x))
    ]


def lead(emu: Emulator, org: str, **match: Any) -> list[dict[str, Any]]:
    return [r for r in records(emu, org, "Leads") if all(r.get(k) == v for k, v in match.items())]


async def no_dead_letters(broker: str, unique_name: str) -> None:
    found = await read_messages(broker, Topics(unique_name).dlq, lambda m: bool(m), within=2.0)
    assert found == [], [m.value for m in found]


async def test_an_edit_of_the_copy_reaches_the_original(
    emu: Emulator,
    make_worker: MakeWorker,
    kafka_producer: AIOKafkaProducer,
    kafka_broker: str,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker(both_ways(("src", "tgt")))
    worker.start()
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    async with notifier(emu, kafka_producer, Topics(unique_name).hints, ("Leads",)):
        [made] = await src.insert("Leads", [{"Last_Name": "Orig", "Company": "Acme"}])
        original = str(made.id)

        async def copied() -> bool:
            return bool(lead(emu, "tgt", **{ORIGIN: original}))

        await wait_until(copied, 60, "the copy in the target", worker)
        [copy] = lead(emu, "tgt", **{ORIGIN: original})
        await tgt.update("Leads", [{"id": copy["id"], "Phone": "+1 555 0100"}])

        async def back() -> bool:
            return lead(emu, "src", id=original)[0]["Phone"] == "+1 555 0100"

        await wait_until(back, 60, "the target's edit in the original", worker)
        await src.update("Leads", [{"id": original, "Description": "from the source"}])

        async def forth() -> bool:
            return lead(emu, "tgt", id=copy["id"])[0]["Description"] == "from the source"

        await wait_until(forth, 60, "the source's later edit in the copy", worker)
    assert [r["id"] for r in records(emu, "src", "Leads")] == [original]  # nothing created
    assert lead(emu, "src", id=original)[0][ORIGIN] is None  # the original is not stamped
    assert len(records(emu, "tgt", "Leads")) == 1
    await no_dead_letters(kafka_broker, unique_name)


async def test_an_edit_in_a_spoke_reaches_the_original_through_the_hub(
    emu: Emulator,
    make_worker: MakeWorker,
    kafka_producer: AIOKafkaProducer,
    kafka_broker: str,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    orgs = ("src", "tgt", "tgt2")  # src and tgt2 are spokes of the hub tgt
    worker = make_worker(both_ways(("src", "tgt"), ("tgt", "tgt2")), orgs=orgs)
    worker.start()
    src, spoke = await client(emu, "src", session), await client(emu, "tgt2", session)
    async with notifier(emu, kafka_producer, Topics(unique_name).hints, ("Leads",), orgs):
        [made] = await src.insert("Leads", [{"Last_Name": "Hubbed", "Company": "Acme"}])
        original = str(made.id)

        async def in_the_spoke() -> bool:
            return bool(lead(emu, "tgt2", Last_Name="Hubbed"))

        await wait_until(in_the_spoke, 60, "the copy in the other spoke", worker)
        [far] = lead(emu, "tgt2", Last_Name="Hubbed")
        await spoke.update("Leads", [{"id": far["id"], "Company": "Acme Global"}])

        async def everywhere() -> bool:
            return all(lead(emu, org, Company="Acme Global") for org in orgs)

        await wait_until(everywhere, 60, "the spoke's edit in every org", worker)
    assert [r["id"] for r in records(emu, "src", "Leads")] == [original]
    assert all(len(records(emu, org, "Leads")) == 1 for org in orgs)
    await no_dead_letters(kafka_broker, unique_name)
