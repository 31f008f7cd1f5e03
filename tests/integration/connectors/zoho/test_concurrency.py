"""1,000 concurrent reads: one token refresh, never more calls in flight than configured."""

from __future__ import annotations

import asyncio

from tests.support.zoho_client import Emu, MakeClient, lead

LIMIT = 6


async def test_thousand_concurrent_get_by_ids(emu: Emu, make_client: MakeClient) -> None:
    writer = await make_client()
    outcomes = await writer.upsert("Leads", [lead(n) for n in range(50)], ["Origin_Record_Id"], [])
    ids = [o.id for o in outcomes if o.ok and o.id]
    assert len(ids) == 50
    refreshes_before = await emu.refreshes()
    await emu.faults(latency_ms=2)  # calls overlap for real
    client = await make_client(max_concurrency=LIMIT)  # cold: no token yet

    results = await asyncio.gather(
        *(client.get_by_ids("Leads", [ids[i % 50]], ["Last_Name", "Email"]) for i in range(1000))
    )

    assert [r[0]["id"] for r in results] == [ids[i % 50] for i in range(1000)]
    assert await emu.refreshes() - refreshes_before == 1
    stats = await emu.stats()
    assert stats["max_concurrency"] <= LIMIT
    assert client.limiter.high_water == LIMIT  # the limit was reached, not just respected
    assert stats["throttled"] == 0
    assert await emu.calls("GET /crm/v8/Leads") == 1000
