"""Activities and notes: polymorphic What_Id with $se_module, Who_Id, Parent_Id (reference §13,
§19), their metadata and the errors when the module is missing or wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator

MODULES = {"Tasks": {}, "Events": {}, "Calls": {}, "Notes": {}, "Quotes": {}}


@pytest.fixture
async def act(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    async with Emulator(make_config(alpha={"modules": MODULES})) as emu:
        yield await login(session, emu, "alpha")


async def _get(client: Client, module: str, rid: str) -> dict[str, Any]:
    status, body, _ = await client.call("GET", f"/crm/v8/{module}/{rid}")
    assert status == 200, body
    record: dict[str, Any] = body["data"][0]
    return record


async def _write(client: Client, module: str, record: dict[str, Any]) -> tuple[int, Any]:
    status, body, _ = await client.call("POST", f"/crm/v8/{module}", json={"data": [record]})
    return status, body


async def test_task_related_to_a_deal_with_se_module(act: Client) -> None:
    (deal,) = await act.insert("Deals", {"Deal_Name": "Big", "Stage": "Qualification"})
    (contact,) = await act.insert("Contacts", {"Last_Name": "Doe"})
    (task,) = await act.insert(
        "Tasks",
        {
            "Subject": "Call back",
            "Due_Date": "2026-12-10",
            "Status": "Not Started",
            "Priority": "High",
            "What_Id": {"id": deal},
            "$se_module": "Deals",
            "Who_Id": {"id": contact},
        },
    )
    got = await _get(act, "Tasks", task)
    assert got["What_Id"] == {"name": "Big", "id": deal}
    assert got["$se_module"] == "Deals"
    assert got["Who_Id"] == {"name": "Doe", "id": contact}
    status, body, _ = await act.call("GET", "/crm/v8/Tasks", params={"fields": "Subject,What_Id"})
    assert body["data"][0]["$se_module"] == "Deals"


async def test_what_id_without_se_module_is_mandatory_not_found(act: Client) -> None:
    (deal,) = await act.insert("Deals", {"Deal_Name": "Big", "Stage": "Qualification"})
    status, body = await _write(act, "Tasks", {"Subject": "S", "What_Id": {"id": deal}})
    assert status == 400
    assert body["data"][0] == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "$se_module", "json_path": "$.data[0].$se_module"},
        "message": "required field not found",
        "status": "error",
    }


async def test_what_id_of_another_module_or_not_allowed_is_invalid_data(act: Client) -> None:
    (deal,) = await act.insert("Deals", {"Deal_Name": "Big", "Stage": "Qualification"})
    record = {"Subject": "S", "What_Id": {"id": deal}, "$se_module": "Accounts"}
    status, body = await _write(
        act,
        "Calls",
        {**record, "Call_Type": "Outbound", "Call_Start_Time": "2026-12-01T10:00:00+05:30"},
    )
    assert (status, body["data"][0]["code"]) == (400, "INVALID_DATA")
    assert body["data"][0]["details"]["api_name"] == "What_Id"
    status, body = await _write(act, "Tasks", {**record, "$se_module": "Contacts"})
    assert body["data"][0]["details"]["api_name"] == "$se_module"


async def test_event_and_call_mandatory_fields(act: Client) -> None:
    status, body = await _write(act, "Events", {"Event_Title": "Demo"})
    assert body["data"][0]["details"]["api_name"] in ("Start_DateTime", "End_DateTime")
    (account,) = await act.insert("Accounts", {"Account_Name": "Zylker"})
    (event,) = await act.insert(
        "Events",
        {
            "Event_Title": "Demo",
            "Start_DateTime": "2026-12-01T10:00:00+05:30",
            "End_DateTime": "2026-12-01T11:00:00+05:30",
            "What_Id": {"id": account},
            "$se_module": "Accounts",
        },
    )
    got = await _get(act, "Events", event)
    assert (got["What_Id"]["name"], got["$se_module"]) == ("Zylker", "Accounts")
    assert got["Start_DateTime"] == "2026-12-01T10:00:00+05:30"


async def test_note_with_parent_id_in_the_v8_and_legacy_shapes(act: Client) -> None:
    (lead,) = await act.insert("Leads", {"Last_Name": "Lee"})
    (note,) = await act.insert(
        "Notes",
        {
            "Note_Title": "Call summary",
            "Note_Content": "Asked for pricing",
            "Parent_Id": {"module": {"api_name": "Leads"}, "id": lead},
        },
    )
    got = await _get(act, "Notes", note)
    leads_id = (await act.call("GET", "/crm/v8/settings/modules/Leads"))[1]["modules"][0]["id"]
    assert got["Parent_Id"] == {
        "module": {"api_name": "Leads", "id": leads_id},
        "name": "Lee",
        "id": lead,
    }
    (legacy,) = await act.insert(
        "Notes", {"Note_Content": "x", "Parent_Id": lead, "se_module": "Leads"}
    )
    assert (await _get(act, "Notes", legacy))["Parent_Id"]["id"] == lead
    status, body = await _write(act, "Notes", {"Note_Title": "t"})
    assert body["data"][0]["details"]["api_name"] == "Parent_Id"
    status, body = await _write(
        act, "Notes", {"Parent_Id": {"module": {"api_name": "Leads"}, "id": lead}}
    )
    assert body["data"][0]["code"] == "EXPECTED_FIELD_MISSING"


async def test_polymorphic_field_metadata_lists_the_allowed_modules(act: Client) -> None:
    _, body, _ = await act.call("GET", "/crm/v8/settings/fields", params={"module": "Tasks"})
    fields = {f["api_name"]: f for f in body["fields"]}
    allowed = [m["api_name"] for m in fields["What_Id"]["lookup"]["module"]]
    assert {"Leads", "Accounts", "Deals", "Quotes", "Products"} <= set(allowed)
    assert "Contacts" not in allowed
    assert fields["Who_Id"]["lookup"]["module"]["api_name"] == "Contacts"
    assert fields["Subject"]["system_mandatory"] is True


async def test_coql_and_modified_time_work_on_the_new_modules(act: Client) -> None:
    (task,) = await act.insert("Tasks", {"Subject": "First"})
    before = (await _get(act, "Tasks", task))["Modified_Time"]
    act.emu.state.advance(5)
    status, _, _ = await act.call(
        "PUT", "/crm/v8/Tasks", json={"data": [{"id": task, "Subject": "Second"}]}
    )
    assert status == 200
    assert (await _get(act, "Tasks", task))["Modified_Time"] != before
    status, body, _ = await act.call(
        "POST",
        "/crm/v8/coql",
        json={"select_query": "select Subject from Tasks where Subject = 'Second'"},
    )
    assert status == 200 and body["data"][0]["Subject"] == "Second"


PAST, FUTURE = "2024-05-01T10:00:00+05:30", "2099-05-01T10:00:00+05:30"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ({"Call_Type": "Inbound", "Call_Start_Time": PAST}, "MANDATORY_NOT_FOUND"),
        ({"Call_Type": "Outbound", "Call_Start_Time": PAST}, "MANDATORY_NOT_FOUND"),
        ({"Call_Type": "Outbound", "Call_Start_Time": FUTURE, "Outbound_Call_Status": "Completed"},
         "MANDATORY_NOT_FOUND"),
        ({"Call_Type": "Inbound", "Call_Start_Time": PAST, "Call_Duration": "00:00"},
         "DEPENDENT_MISMATCH"),
        ({"Call_Type": "Inbound", "Call_Start_Time": PAST, "Call_Duration": "10:00"}, None),
        ({"Call_Type": "Outbound", "Call_Start_Time": FUTURE}, None),  # scheduled
        ({"Call_Type": "Missed", "Call_Start_Time": PAST}, None),
    ],
)  # fmt: skip
async def test_a_completed_call_needs_its_duration(
    act: Client, call: dict[str, Any], code: str | None
) -> None:
    status, body = await _write(act, "Calls", {"Subject": "Call", **call})
    if code is None:
        assert status == 201, body
    else:
        assert (status, body["data"][0]["code"]) == (400, code)
        assert body["data"][0]["details"]["api_name"] == "Call_Duration"
