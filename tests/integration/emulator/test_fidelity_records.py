"""Issue 15 items 1, 5, 6: upsert's unlisted unique fields, search without a parameter, deletes
of deleted ids and permanently deleted entries (status codes and JSON shapes as documented)."""

from __future__ import annotations

import aiohttp

from tests.support.emulator import Client, login
from zoho_emulator import Emulator

DAY_S = 86_400


async def test_upsert_checks_unlisted_unique_fields_after_the_listed_ones(alpha: Client) -> None:
    (lead,) = await alpha.insert("Leads", {"Last_Name": "A", "Origin_Record_Id": "o-1"})
    payload = {
        "data": [{"Last_Name": "A2", "Email": "new@z.com", "Origin_Record_Id": "o-1"}],
        "duplicate_check_fields": ["Email"],
    }
    status, body, _ = await alpha.call("POST", "/crm/v8/Leads/upsert", json=payload)
    assert status == 200, body
    (entry,) = body["data"]
    assert (entry["code"], entry["action"], entry["duplicate_field"]) == (
        "SUCCESS",
        "update",
        "Origin_Record_Id",
    )
    assert entry["details"]["id"] == lead
    _, got, _ = await alpha.call("GET", f"/crm/v8/Leads/{lead}")
    assert (got["data"][0]["Last_Name"], got["data"][0]["Email"]) == ("A2", "new@z.com")


async def test_upsert_listed_field_wins_over_unlisted_unique_field(alpha: Client) -> None:
    (by_email,) = await alpha.insert("Leads", {"Last_Name": "E", "Email": "e@z.com"})
    payload = {
        "data": [{"Last_Name": "E2", "Email": "e@z.com", "Origin_Record_Id": "o-7"}],
        "duplicate_check_fields": ["Email"],
    }
    status, body, _ = await alpha.call("POST", "/crm/v8/Leads/upsert", json=payload)
    assert status == 200
    assert (body["data"][0]["duplicate_field"], body["data"][0]["details"]["id"]) == (
        "Email",
        by_email,
    )


async def test_upsert_system_field_only_when_listed(alpha: Client) -> None:
    await alpha.insert("Leads", {"Last_Name": "S", "Email": "s@z.com"})
    payload = {
        "data": [{"Last_Name": "S2", "Email": "s@z.com", "Origin_Record_Id": "o-8"}],
        "duplicate_check_fields": ["Origin_Record_Id"],
    }
    status, body, _ = await alpha.call("POST", "/crm/v8/Leads/upsert", json=payload)
    assert status == 200 and body["data"][0]["action"] == "insert"


async def test_search_without_a_parameter_is_expected_param_missing(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads/search", params={"page": "1"})
    assert status == 400
    assert body == {
        "code": "EXPECTED_PARAM_MISSING",
        "details": {"param_names": ["criteria", "email", "phone", "word"]},
        "message": "mandatory param missing",
        "status": "error",
    }


async def test_delete_of_a_deleted_id_is_record_not_deleted(alpha: Client) -> None:
    (gone, alive) = await alpha.insert("Leads", {"Last_Name": "G"}, {"Last_Name": "L"})
    status, _, _ = await alpha.call("DELETE", f"/crm/v8/Leads?ids={gone}")
    assert status == 200
    never = "1" * 19
    status, body, _ = await alpha.call("DELETE", f"/crm/v8/Leads?ids={gone},{alive},{never}")
    assert status == 207
    again, ok, unknown = body["data"]
    assert again == {
        "code": "INVALID_DATA",
        "details": {"id": gone},
        "message": "record not deleted",
        "status": "error",
    }
    assert ok["code"] == "SUCCESS" and ok["details"] == {"id": alive}
    assert (unknown["code"], unknown["message"], unknown["details"]) == (
        "INVALID_DATA",
        "the id given seems to be invalid",
        {"id": never},
    )
    status, body, _ = await alpha.call("DELETE", f"/crm/v8/Leads/{gone}")
    assert status == 400 and body["data"][0]["message"] == "record not deleted"


async def test_permanently_deleted_entries_carry_no_deleted_by(
    emu: Emulator, alpha: Client, session: aiohttp.ClientSession
) -> None:
    (old,) = await alpha.insert("Leads", {"Last_Name": "Old"})
    await alpha.call("DELETE", f"/crm/v8/Leads/{old}")
    emu.state.advance(61 * DAY_S)
    alpha = await login(session, emu)  # the access token expired meanwhile
    (new,) = await alpha.insert("Leads", {"Last_Name": "New"})
    await alpha.call("DELETE", f"/crm/v8/Leads/{new}")
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads/deleted")
    assert status == 200
    recycle, permanent = body["data"]
    assert (recycle["id"], recycle["type"]) == (new, "recycle")
    assert recycle["deleted_by"]["name"] == "Alpha Admin"
    assert permanent == {
        "deleted_by": None,
        "id": old,
        "display_name": None,
        "type": "permanent",
        "created_by": None,
        "deleted_time": permanent["deleted_time"],
    }
