"""The poller's deleted cursor where ``/deleted`` stops at a page cap. Zoho documents none
(``page`` and ``per_page`` only, no ``page_token``); if it capped the listing like a records
list's ``page`` (2,000), a burst of deletions past the cap must not stop the deleted cursor:
it moves on to the newest deletion, says what it could not reach, and the next poll lists
what came since. The emulator's ``deleted_page_limit`` sets the cap (400 here)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import pytest

from connectors.zoho import ZohoClient
from tests.support.poller import Memory, started_poller
from tests.support.zoho_client import Emu, MakeClient, emulator_config, lead
from zoho_emulator import Emulator

CAP = 400  # records /deleted reaches by page here
UNREACHED = "orgsync_poller_deletions_unreached_total"


@pytest.fixture
async def emu(session: aiohttp.ClientSession) -> AsyncIterator[Emu]:
    config = emulator_config()
    config["behaviour"] = {"deleted_page_limit": CAP}
    async with Emulator(config) as emulator:
        yield Emu(emulator, session)


async def _inserted(client: ZohoClient, count: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 100):
        rows = [lead(n) for n in range(start, min(count, start + 100))]
        ids += [str(o.id) for o in await client.insert("Leads", rows, trigger=[])]
    return ids


async def test_a_burst_of_deletions_past_the_cap_does_not_stop_the_deleted_cursor(
    make_client: MakeClient, emu: Emu
) -> None:
    client = await make_client()
    ids = await _inserted(client, 700)
    memory = Memory()
    poller = await started_poller(client, memory, overlap=1, start=time.time() - 5)
    await client.delete("Leads", ids[:600], wf_trigger=False)
    emu.emulator.state.advance(2)
    await poller.poll_once("org", "Leads")  # refused at page 3 of /deleted: no failure
    registry = poller.metrics.registry
    assert registry.get_sample_value(UNREACHED, {"org": "org"}) == 1
    first = {h.id for h in memory.hints() if h.operation == "delete"}
    assert len(first) == CAP  # the newest the listing reached
    cursor = memory.values["poll/org/Leads"]["deleted"]
    emu.emulator.state.advance(2)
    await client.delete("Leads", ids[600:603], wf_trigger=False)
    await poller.poll_once("org", "Leads")
    moved = memory.values["poll/org/Leads"]["deleted"]
    assert datetime.fromisoformat(moved) > datetime.fromisoformat(cursor)
    later = {h.id for h in memory.hints() if h.operation == "delete"} - first
    assert later == set(ids[600:603])
