"""Validation like Zoho's: data types, lengths, lookups, owners, unique fields, read-only fields."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator

BAD_VALUES = [
    ("Email", "not-an-email", {"expected_data_type": "email"}),
    ("Phone", "call me maybe", {"expected_data_type": "phone"}),
    ("No_of_Employees", "many", {"expected_data_type": "integer"}),
    ("No_of_Employees", True, {"expected_data_type": "integer"}),
    ("Annual_Revenue", [1], {"expected_data_type": "currency"}),
    ("Email_Opt_Out", "yes", {"expected_data_type": "boolean"}),
    ("Next_Call", "2024-02-30", {"expected_data_type": "datetime"}),
    ("Next_Call", "2024-02-19T18:30:23", {"expected_data_type": "datetime"}),
    ("Languages", "English", {"expected_data_type": "jsonarray"}),
    ("Owner", {"id": "123"}, {"id": "123"}),
    ("Last_Name", "x" * 81, {"maximum_length": 80}),
]


@pytest.mark.parametrize(("field", "value", "extra"), BAD_VALUES)
async def test_invalid_value_is_invalid_data(
    alpha: Client, field: str, value: Any, extra: dict[str, Any]
) -> None:
    record = {"Last_Name": "Boyle", field: value}
    status, body, _ = await alpha.call("POST", "/crm/v8/Leads", json={"data": [record]})
    assert status == 400
    (entry,) = body["data"]
    assert entry["code"] == "INVALID_DATA" and entry["status"] == "error"
    assert entry["details"] == {**extra, "api_name": field, "json_path": f"$.data[0].{field}"}


async def test_date_field_and_datetime_in_org_offset(alpha: Client) -> None:
    (contact,) = await alpha.insert("Contacts", {"Last_Name": "B", "Date_of_Birth": "1990-05-17"})
    _, body, _ = await alpha.call("GET", f"/crm/v8/Contacts/{contact}")
    assert body["data"][0]["Date_of_Birth"] == "1990-05-17"
    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/Contacts",
        json={"data": [{"Last_Name": "B", "Date_of_Birth": "17/05/1990"}]},
    )
    assert status == 400 and body["data"][0]["details"]["expected_data_type"] == "date"
    (lead,) = await alpha.insert("Leads", {"Last_Name": "B", "Next_Call": "2024-02-19T13:00:00Z"})
    _, body, _ = await alpha.call("GET", f"/crm/v8/Leads/{lead}")
    assert body["data"][0]["Next_Call"] == "2024-02-19T18:30:00+05:30"


async def test_lookup_must_exist_and_renders_name(alpha: Client) -> None:
    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/Deals",
        json={
            "data": [{"Deal_Name": "D", "Stage": "Qualification", "Account_Name": {"id": "1" * 19}}]
        },
    )
    assert status == 400
    assert body["data"][0]["details"]["api_name"] == "Account_Name"
    (account,) = await alpha.insert("Accounts", {"Account_Name": "Zylker"})
    (contact,) = await alpha.insert("Contacts", {"Last_Name": "Boyle"})
    (deal,) = await alpha.insert(
        "Deals",
        {
            "Deal_Name": "D",
            "Stage": "Qualification",
            "Account_Name": {"id": account},
            "Contact_Name": contact,
        },
    )
    _, body, _ = await alpha.call("GET", f"/crm/v8/Deals/{deal}")
    record = body["data"][0]
    assert record["Account_Name"] == {"name": "Zylker", "id": account}
    assert record["Contact_Name"] == {"name": "Boyle", "id": contact}


async def test_deals_mandatory_stage(alpha: Client) -> None:
    status, body, _ = await alpha.call("POST", "/crm/v8/Deals", json={"data": [{"Deal_Name": "D"}]})
    assert status == 400
    assert body["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert body["data"][0]["details"]["api_name"] == "Stage"


async def test_clearing_a_mandatory_field_on_update_fails(alpha: Client) -> None:
    (lead,) = await alpha.insert("Leads", {"Last_Name": "B"})
    status, body, _ = await alpha.call(
        "PUT", "/crm/v8/Leads", json={"data": [{"id": lead, "Last_Name": None}]}
    )
    assert status == 400 and body["data"][0]["code"] == "MANDATORY_NOT_FOUND"


async def test_unique_field_gives_duplicate_data_with_existing_id(alpha: Client) -> None:
    (first,) = await alpha.insert("Leads", {"Last_Name": "A", "Origin_Record_Id": "o-1"})
    status, body, _ = await alpha.call(
        "POST", "/crm/v8/Leads", json={"data": [{"Last_Name": "B", "Origin_Record_Id": "O-1"}]}
    )
    assert status == 400
    entry = body["data"][0]
    assert (entry["code"], entry["message"]) == ("DUPLICATE_DATA", "duplicate data")
    details = entry["details"]
    assert details["api_name"] == "Origin_Record_Id"
    assert details["json_path"] == "$.data[0].Origin_Record_Id"
    assert details["duplicate_record"]["id"] == first
    assert details["duplicate_record"]["module"]["api_name"] == "Leads"
    assert set(details["duplicate_record"]["Owner"]) == {"name", "id", "zuid"}
    assert details["more_records"] is False


async def test_read_only_and_unknown_fields_are_ignored(alpha: Client) -> None:
    (lead,) = await alpha.insert(
        "Leads",
        {
            "Last_Name": "B",
            "Created_Time": "2000-01-01T00:00:00Z",
            "Full_Name": "Forged",
            "Not_A_Field": 1,
            "$approved": False,
            "id": "1",
        },
    )
    _, body, _ = await alpha.call("GET", f"/crm/v8/Leads/{lead}")
    record = body["data"][0]
    assert record["id"] == lead and record["Full_Name"] == "B"
    assert not record["Created_Time"].startswith("2000") and "Not_A_Field" not in record


async def test_strict_switches_reject_read_only_and_unknown_fields(
    session: aiohttp.ClientSession,
) -> None:
    config = make_config(
        behaviour={
            "read_only_fields": "reject",
            "unknown_fields": "reject",
            "picklist_validation": True,
        }
    )
    async with Emulator(config) as strict:
        client = await login(session, strict)
        for extra in ({"Full_Name": "x"}, {"Nope": 1}, {"Lead_Status": "Invented"}):
            status, body, _ = await client.call(
                "POST", "/crm/v8/Leads", json={"data": [{"Last_Name": "B", **extra}]}
            )
            assert status == 400 and body["data"][0]["code"] == "INVALID_DATA", extra


async def test_owner_can_be_another_user(alpha: Client) -> None:
    _, users, _ = await alpha.call("GET", "/crm/v8/users", params={"type": "ActiveUsers"})
    rep = next(u for u in users["users"] if u["email"] == "rep@alpha.example")
    (lead,) = await alpha.insert("Leads", {"Last_Name": "B", "Owner": {"id": rep["id"]}})
    _, body, _ = await alpha.call("GET", f"/crm/v8/Leads/{lead}")
    assert body["data"][0]["Owner"] == {
        "name": "Alpha Rep",
        "id": rep["id"],
        "email": "rep@alpha.example",
    }


async def test_custom_module_from_config(alpha: Client) -> None:
    (project,) = await alpha.insert("Projects", {"Name": "Apollo", "Budget": 1200.5})
    _, body, _ = await alpha.call("GET", f"/crm/v8/Projects/{project}")
    assert body["data"][0]["Budget"] == 1200.5
    status, body, _ = await alpha.call("POST", "/crm/v8/Projects", json={"data": [{"Budget": 1}]})
    assert body["data"][0]["details"]["api_name"] == "Name"
