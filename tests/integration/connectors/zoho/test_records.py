"""Records, metadata and watch channels against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.zoho import Priority, WatchChannel
from tests.support.zoho_client import Emu, MakeClient, lead


async def test_250_upserts_are_3_calls_with_per_record_outcomes(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client()
    records = [lead(n) for n in range(250)]
    records[7] = {"Email": "no-last-name@example.com", "Origin_Record_Id": "src-7"}
    records[130] = lead(130, Email="not an email")

    outcomes = await client.upsert("Leads", records, ["Origin_Record_Id"], trigger=[])

    assert await emu.calls("POST /crm/v8/Leads/upsert") == 3
    assert len(outcomes) == 250
    failed = {i: o for i, o in enumerate(outcomes) if not o.ok}
    assert set(failed) == {7, 130}
    assert failed[7].code == "MANDATORY_NOT_FOUND"
    assert failed[7].details.get("api_name") == "Last_Name"
    assert failed[130].code == "INVALID_DATA"
    assert all(o.action == "insert" and o.id for i, o in enumerate(outcomes) if i not in failed)

    again = await client.upsert("Leads", [lead(1, First_Name="Ann")], ["Origin_Record_Id"], [])
    assert (again[0].action, again[0].id) == ("update", outcomes[1].id)


async def test_get_update_delete_in_chunks_of_100(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client()
    outcomes = await client.insert("Leads", [lead(n) for n in range(150)], trigger=[])
    ids = [o.id for o in outcomes if o.id]
    assert len(ids) == 150 and await emu.calls("POST /crm/v8/Leads") == 2

    got = await client.get_by_ids("Leads", [*ids, *ids[:5]], ["Last_Name", "Email"])
    assert sorted(r["id"] for r in got) == sorted(ids)
    assert await emu.calls("GET /crm/v8/Leads") == 2

    updated = await client.update(
        "Leads", [{"id": i, "First_Name": "X"} for i in ids] + [{"First_Name": "no id"}], trigger=[]
    )
    assert [o.ok for o in updated] == [True] * 150 + [False]
    assert updated[0].action == "update"

    deleted = await client.delete("Leads", [*ids[:120], "111111111111111111"], wf_trigger=False)
    assert [o.ok for o in deleted[:120]] == [True] * 120 and not deleted[120].ok
    assert deleted[0].action == "delete" and deleted[0].id == ids[0]
    assert await emu.calls("DELETE /crm/v8/Leads") == 2
    assert len(await client.get_by_ids("Leads", ids, ["Email"])) == 30


async def test_list_modified_since_streams_past_2000_records(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client()
    since = datetime.now(UTC) - timedelta(minutes=1)
    for start in range(0, 2100, 100):
        await client.upsert(
            "Leads", [lead(n) for n in range(start, start + 100)], ["Origin_Record_Id"], []
        )

    seen = [r async for r in client.list_modified_since("Leads", since, ["Email", "Modified_Time"])]

    assert len(seen) == 2100 and len({r["id"] for r in seen}) == 2100
    times = [datetime.fromisoformat(r["Modified_Time"]) for r in seen]
    assert times == sorted(times)
    assert await emu.calls("GET /crm/v8/Leads") == 11  # 10 discrete pages, then a page token

    later = datetime.now(UTC) + timedelta(hours=1)
    assert [r async for r in client.list_modified_since("Leads", later, ["Email"])] == []


async def test_list_deleted_since(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client()
    outcomes = await client.insert("Leads", [lead(n) for n in range(3)], trigger=[])
    since = datetime.now(UTC) - timedelta(minutes=1)
    await client.delete("Leads", [o.id for o in outcomes[:2] if o.id])

    deleted = [d async for d in client.list_deleted_since("Leads", since, priority=Priority.LIVE)]

    assert {d.id for d in deleted} == {outcomes[0].id, outcomes[1].id}
    assert await emu.calls("GET /crm/v8/Leads/deleted") == 1


async def test_metadata_is_cached(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client()
    fields = await client.fields("Leads")
    assert {"Last_Name", "Email", "Origin_Record_Id"} <= {f["api_name"] for f in fields}
    await client.fields("Leads")
    users = await client.users()
    await client.users()
    assert users and "email" in users[0]
    assert await emu.calls("GET /crm/v8/settings/fields") == 1
    assert await emu.calls("GET /crm/v8/users") == 1


async def test_get_by_ids_without_fields_uses_field_metadata(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client()
    [out] = await client.insert("Leads", [lead(1, Company="Zylker")], trigger=[])
    [record] = await client.get_by_ids("Leads", [out.id])
    assert record["Company"] == "Zylker" and record["Email"] == "lead1@example.com"


async def test_watch_channel_lifecycle(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client()
    expiry = datetime.now(UTC) + timedelta(hours=6)
    channel = WatchChannel(
        1000000068001,
        ["Leads.all"],
        "http://127.0.0.1:9/notify?org=alpha",
        token="verify-me",
        channel_expiry=expiry,
    )

    [subscribed] = await client.watch_subscribe([channel])
    assert subscribed.ok and subscribed.code == "SUCCESS"

    [listed] = await client.watch_get(channel_id=1000000068001)
    assert sorted(listed["events"]) == ["Leads.create", "Leads.delete", "Leads.edit"]
    assert listed["token"] == "verify-me"

    renewed = WatchChannel(
        1000000068001,
        ["Leads.all"],
        channel.notify_url,
        token="verify-me",
        channel_expiry=expiry + timedelta(days=1),
    )
    [updated] = await client.watch_update([renewed])
    assert updated.ok
    [listed] = await client.watch_get(channel_id=1000000068001)
    assert datetime.fromisoformat(listed["channel_expiry"]) > expiry + timedelta(hours=23)

    [disabled] = await client.watch_disable([1000000068001])
    assert disabled.ok
    assert await client.watch_get() == []
    [missing] = await client.watch_disable([42])
    assert not missing.ok
