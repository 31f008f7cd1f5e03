"""Notes of a record and tags, through the client, against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.zoho_client import Emu, MakeClient, lead


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    leads = {"fields": [{"api_name": "Origin_Record_Id", "data_type": "text", "unique": True}]}
    return {"modules": {"Leads": leads, "Notes": {}}}


async def test_notes_of_a_record_are_added_read_changed_and_deleted(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client()
    [made] = await client.insert("Leads", [lead(1)], trigger=[])
    parent = str(made.id)
    added = await client.add_notes("Leads", parent, [{"Note_Title": "Call", "Note_Content": "A"}])
    assert added[0].ok and added[0].id
    await client.update_notes("Leads", parent, [{"id": added[0].id, "Note_Content": "B"}])
    [note] = await client.notes("Leads", parent)
    assert (note["id"], note["Note_Title"], note["Note_Content"]) == (added[0].id, "Call", "B")
    deleted = await client.delete_notes("Leads", parent, [str(added[0].id)])
    assert deleted[0].ok and await client.notes("Leads", parent) == []
    assert await emu.calls(f"GET /crm/v8/Leads/{parent}/Notes") == 2


async def test_records_are_tagged_by_name(make_client: MakeClient) -> None:
    client = await make_client()
    ids = [str(o.id) for o in await client.insert("Leads", [lead(1), lead(2)], trigger=[])]
    outcomes = await client.add_tags("Leads", ids, ["VIP", "Partner"])
    assert [o.ok for o in outcomes] == [True, True]
    assert {t["name"] for t in await client.tags("Leads")} >= {"VIP", "Partner"}
    await client.remove_tags("Leads", ids[:1], ["VIP"])
    read = await client.get_by_ids("Leads", ids, ["Tag"])
    tagged = {r["id"]: {t["name"] for t in r["Tag"]} for r in read}
    assert tagged == {ids[0]: {"Partner"}, ids[1]: {"VIP", "Partner"}}
