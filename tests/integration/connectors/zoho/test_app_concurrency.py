"""Under per-app concurrency (the emulator's default, as Zoho counts), one client keeps within
its app's slots on its own: a burst far above the edition's limit is never throttled."""

from __future__ import annotations

import asyncio

from tests.support.zoho_client import Emu, MakeClient, lead

EDITION_SLOTS = 15  # professional (the support config's edition)


async def test_one_client_never_exceeds_its_apps_slots(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client(max_concurrency=100)  # asks for more than the app has
    assert client.limiter.limit == EDITION_SLOTS
    (written,) = await client.upsert("Leads", [lead(1)], ["Origin_Record_Id"], [])
    await emu.faults(latency_ms=20)  # calls overlap for real
    await asyncio.gather(
        *(client.get_by_ids("Leads", [str(written.id)], ["Last_Name"]) for _ in range(60))
    )
    stats = await emu.stats()
    assert stats["throttled"] == 0
    assert stats["max_concurrency"] == client.limiter.high_water == EDITION_SLOTS
