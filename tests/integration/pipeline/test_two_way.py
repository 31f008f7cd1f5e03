"""Two-way Leads: edits flow both ways, our own writes coming back are not written again."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.deployment import records
from orgsync_kernel.topics import Topics
from tests.support.pipeline import by_field, calls, client, notifier, wait_until
from zoho_emulator import Emulator

FIELDS = ["First_Name", "Last_Name", "Email", "Lead_Status"]
ROUTES: list[dict[str, Any]] = [
    {
        "source": "src",
        "target": "tgt",
        "modules": {"Leads": {"match_field": "Email", "fields": FIELDS}},
    },
    {
        "source": "tgt",
        "target": "src",
        "modules": {"Leads": {"match_field": "Email", "fields": ["Lead_Status"]}},
    },
]


TEST_WRITES = 3  # the test's own update calls: the status edit, the names edit, the marker


def upserts(emu: Emulator) -> int:
    """orgsync's writes of Leads in either org: upserts, and updates by id of linked records
    (the calls of the test's own edits are left out)."""
    paths = ("POST /crm/v8/Leads/upsert", "PUT /crm/v8/Leads")
    return sum(calls(emu, org, path) for org in ("src", "tgt") for path in paths) - TEST_WRITES


async def test_two_way_leads_settle_without_ping_pong(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker(ROUTES)
    worker.start()
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    async with notifier(emu, kafka_producer, Topics(unique_name).hints, ("Leads",)):
        ids = [
            str(o.id)
            for o in await src.insert(
                "Leads",
                [
                    {"Last_Name": f"L{n}", "Email": f"two{n}@example.com", "Lead_Status": "New"}
                    for n in range(5)
                ],
            )
        ]

        async def created() -> bool:
            return len(records(emu, "tgt", "Leads")) == 5

        await wait_until(created, 60, "the leads in the target", worker)
        target_ids = {row["Email"]: row["id"] for row in records(emu, "tgt", "Leads")}
        # A burst of genuine edits on both sides: status in the target, names in the source.
        await tgt.update(
            "Leads",
            [{"id": target_ids[f"two{n}@example.com"], "Lead_Status": "Contacted"} for n in (0, 1)],
        )
        await src.update("Leads", [{"id": ids[n], "First_Name": f"F{n}"} for n in (2, 3)])

        async def settled() -> bool:
            s = by_field(records(emu, "src", "Leads"), "Email")
            t = by_field(records(emu, "tgt", "Leads"), "Email")
            return all(
                s[e]["Lead_Status"] == t[e]["Lead_Status"]
                and s[e]["First_Name"] == t[e]["First_Name"]
                for e in s
            ) and (
                s["two0@example.com"]["Lead_Status"] == "Contacted"
                and t["two2@example.com"]["First_Name"] == "F2"
            )

        await wait_until(settled, 60, "both orgs equal", worker)
        # A marker edit: once it has arrived, everything before it has been processed.
        await src.update("Leads", [{"id": ids[4], "First_Name": "Marker"}])

        async def marker() -> bool:
            t = by_field(records(emu, "tgt", "Leads"), "Email")
            return t["two4@example.com"]["First_Name"] == "Marker"

        await wait_until(marker, 60, "the marker edit", worker)
        quiet_since = time.monotonic()
        before = upserts(emu)
        await wait_until(_after(quiet_since, 3.0), 10, "a quiet period")
        print(f"two-way: {before} upsert calls for 4 genuine changes")
        # Genuine changes: the creation (1 call), status back to src (1), names to tgt (1),
        # the marker (1); batching may split a burst, but echoes must add nothing.
        assert before <= 6, f"{before} upsert calls for 4 genuine changes"
        assert upserts(emu) == before, "orgsync kept writing after the orgs were equal"


def _after(start: float, seconds: float) -> Any:
    async def check() -> bool:
        return time.monotonic() - start >= seconds

    return check
