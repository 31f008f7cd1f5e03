"""The poller sees notes, which change nothing of their parent record (not even Modified_Time),
and hints a record of its overlapping window once, not on every listing (issue 28 item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from orgsync_kernel.events import RELATED_SOURCE, Hint
from tests.support.poller import Memory, started_poller
from tests.support.zoho_client import Emu, MakeClient, lead


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    leads = {"fields": [{"api_name": "Origin_Record_Id", "data_type": "text", "unique": True}]}
    return {"modules": {"Leads": leads, "Notes": {}}}


async def test_a_note_added_to_a_synced_record_hints_its_parent(make_client: MakeClient) -> None:
    client = await make_client()
    leads = [str(o.id) for o in await client.insert("Leads", [lead(1), lead(2)], trigger=[])]
    memory = Memory()
    poller = await started_poller(client, memory, notes_parents={"org": frozenset({"Leads"})})
    assert ("org", "Notes") in poller.pairs()
    await client.add_notes("Leads", leads[1], [{"Note_Title": "Called"}])
    assert await poller.poll_once("org", "Notes") == 1
    [hint] = [Hint.loads(value) for _, value in memory.sent]
    assert (hint.module, hint.id, hint.source) == ("Leads", leads[1], RELATED_SOURCE)


async def test_the_overlap_is_listed_each_time_but_its_records_are_hinted_once(
    make_client: MakeClient, emu: Emu
) -> None:
    client = await make_client()
    ids = [str(o.id) for o in await client.insert("Leads", [lead(1), lead(2)], trigger=[])]
    poller = await started_poller(client, Memory(), deletes={})
    # Both were modified in the newest second listed: hinted once more (a later edit in that
    # second would carry the same Modified_Time), then no more.
    assert [await poller.poll_once("org", "Leads") for _ in range(4)] == [2, 2, 0, 0]
    emu.emulator.state.advance(2)
    await client.update("Leads", [{"id": ids[0], "Last_Name": "Edited"}], trigger=[])
    assert [await poller.poll_once("org", "Leads") for _ in range(3)] == [1, 1, 0]
    assert await emu.calls("GET /crm/v8/Leads/deleted") == 0  # no route syncs Leads' deletes


async def test_a_deleted_record_is_hinted_once_where_deletes_are_synced(
    make_client: MakeClient, emu: Emu
) -> None:
    client = await make_client()
    [lead_id] = [str(o.id) for o in await client.insert("Leads", [lead(1)], trigger=[])]
    poller = await started_poller(client, Memory())
    await client.delete("Leads", [lead_id])
    hints = [await poller.poll_once("org", "Leads") for _ in range(4)]
    assert hints == [1, 1, 0, 0]  # the delete (a deleted record is no longer listed modified)
    assert await emu.calls("GET /crm/v8/Leads/deleted") == 4
