"""Upsert: default duplicate-check fields, duplicate_check_fields, action/duplicate_field."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator


async def test_default_check_uses_system_field_then_unique_fields(alpha: Client) -> None:
    (by_email,) = await alpha.insert("Leads", {"Last_Name": "A", "Email": "a@z.com"})
    (by_origin,) = await alpha.insert("Leads", {"Last_Name": "B", "Origin_Record_Id": "o-9"})
    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/Leads/upsert",
        json={
            "data": [
                {"Last_Name": "A2", "Email": "A@Z.com"},
                {"Last_Name": "B2", "Origin_Record_Id": "o-9"},
                {"Last_Name": "C", "Email": "c@z.com"},
            ]
        },
    )
    assert status == 200
    first, second, third = body["data"]
    assert (first["action"], first["duplicate_field"], first["details"]["id"]) == (
        "update",
        "Email",
        by_email,
    )
    assert (second["action"], second["duplicate_field"], second["details"]["id"]) == (
        "update",
        "Origin_Record_Id",
        by_origin,
    )
    assert (third["action"], third["duplicate_field"], third["message"]) == (
        "insert",
        None,
        "record added",
    )
    assert list(first) == ["code", "duplicate_field", "action", "details", "message", "status"]


async def test_duplicate_check_fields_are_honoured_in_order(alpha: Client) -> None:
    (lead,) = await alpha.insert(
        "Leads", {"Last_Name": "A", "Email": "a@z.com", "Origin_Record_Id": "o-1"}
    )
    payload = {
        "data": [{"Last_Name": "X", "Email": "a@z.com", "Origin_Record_Id": "o-2"}],
        "duplicate_check_fields": ["Origin_Record_Id"],
    }
    status, body, _ = await alpha.call("POST", "/crm/v8/Leads/upsert", json=payload)
    assert status == 200 and body["data"][0]["action"] == "insert"
    payload["duplicate_check_fields"] = ["Origin_Record_Id", "Email"]
    payload["data"][0]["Origin_Record_Id"] = "o-3"
    status, body, _ = await alpha.call("POST", "/crm/v8/Leads/upsert", json=payload)
    assert (body["data"][0]["action"], body["data"][0]["duplicate_field"]) == ("update", "Email")
    assert body["data"][0]["details"]["id"] == lead


async def test_non_unique_check_field_is_rejected(alpha: Client) -> None:
    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/Leads/upsert",
        json={"data": [{"Last_Name": "X"}], "duplicate_check_fields": ["Company"]},
    )
    assert (status, body["code"]) == (400, "INVALID_DATA")


async def test_upsert_insert_needs_mandatory_fields(alpha: Client) -> None:
    status, body, _ = await alpha.call(
        "POST", "/crm/v8/Leads/upsert", json={"data": [{"Email": "new@z.com"}]}
    )
    assert status == 400 and body["data"][0]["code"] == "MANDATORY_NOT_FOUND"


async def test_upsert_update_needs_no_mandatory_fields(alpha: Client) -> None:
    await alpha.insert("Accounts", {"Account_Name": "Zylker"})
    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/Accounts/upsert",
        json={"data": [{"Account_Name": "zylker", "Phone": "555"}]},
    )
    assert status == 200 and body["data"][0]["action"] == "update"


async def test_unique_clash_on_update_path(alpha: Client) -> None:
    await alpha.insert("Leads", {"Last_Name": "A", "Email": "a@z.com", "Origin_Record_Id": "o-1"})
    await alpha.insert("Leads", {"Last_Name": "B", "Email": "b@z.com", "Origin_Record_Id": "o-2"})
    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/Leads/upsert",
        json={"data": [{"Last_Name": "B", "Email": "b@z.com", "Origin_Record_Id": "o-1"}]},
    )
    assert status == 400 and body["data"][0]["code"] == "DUPLICATE_DATA"


async def test_upsert_status_all_insert_all_update_mixed_partial(alpha: Client) -> None:
    def upsert(*records: dict[str, str]) -> Any:
        return alpha.call("POST", "/crm/v8/Leads/upsert", json={"data": list(records)})

    status, body, _ = await upsert(
        {"Last_Name": "A", "Email": "a@z.com"}, {"Last_Name": "B", "Email": "b@z.com"}
    )
    assert status == 200 and [e["action"] for e in body["data"]] == ["insert", "insert"]
    assert [e["duplicate_field"] for e in body["data"]] == [None, None]
    assert [e["message"] for e in body["data"]] == ["record added", "record added"]
    details = body["data"][0]["details"]
    assert list(details) == ["Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"]
    assert (
        details["Created_By"]
        == details["Modified_By"]
        == {"name": "Alpha Admin", "id": details["Created_By"]["id"]}
    )
    status, body, _ = await upsert(
        {"Last_Name": "A2", "Email": "a@z.com"}, {"Last_Name": "B2", "Email": "b@z.com"}
    )
    assert status == 200 and [e["action"] for e in body["data"]] == ["update", "update"]
    assert [e["duplicate_field"] for e in body["data"]] == ["Email", "Email"]
    assert [e["message"] for e in body["data"]] == ["record updated", "record updated"]
    status, body, _ = await upsert(
        {"Last_Name": "A3", "Email": "a@z.com"}, {"Last_Name": "C", "Email": "c@z.com"}
    )
    assert status == 200 and [e["action"] for e in body["data"]] == ["update", "insert"]
    status, body, _ = await upsert({"Last_Name": "D", "Email": "d@z.com"}, {"Email": "e@z.com"})
    assert status == 207 and [e["status"] for e in body["data"]] == ["success", "error"]
    assert "action" not in body["data"][1] and body["data"][1]["code"] == "MANDATORY_NOT_FOUND"


async def test_upsert_success_status_switch(session: aiohttp.ClientSession) -> None:
    config = make_config(behaviour={"upsert_success_status": 201})
    async with Emulator(config) as emu:
        client = await login(session, emu)
        status, body, _ = await client.call(
            "POST", "/crm/v8/Leads/upsert", json={"data": [{"Last_Name": "A", "Email": "a@z.com"}]}
        )
        assert status == 201 and body["data"][0]["action"] == "insert"
