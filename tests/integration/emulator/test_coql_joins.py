"""Issue 27 item 3: COQL's documented additions (v7 COQL page): lookup dot columns (two
relations), What_Id->Module.Field, between / not between, id is not null, duplicate ORDER BY."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator


@pytest.fixture
async def crm(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    modules = {"Leads": {}, "Tasks": {}}
    async with Emulator(make_config(alpha={"modules": modules})) as emu:
        yield await login(session, emu)


async def _coql(client: Client, query: str) -> tuple[int, Any]:
    status, body, _ = await client.call("POST", "/crm/v8/coql", json={"select_query": query})
    return status, body


async def _accounts(crm: Client) -> tuple[str, str, str]:
    (parent,) = await crm.insert("Accounts", {"Account_Name": "Zylker Group"})
    (zylker,) = await crm.insert("Accounts", {"Account_Name": "Zylker", "Parent_Account": parent})
    (boyle,) = await crm.insert("Contacts", {"Last_Name": "Boyle", "Account_Name": zylker})
    await crm.insert("Contacts", {"Last_Name": "Loner"})
    return parent, zylker, boyle


async def test_a_lookups_dot_column_in_select_and_where(crm: Client) -> None:
    parent, zylker, boyle = await _accounts(crm)
    status, body = await _coql(
        crm,
        "select Last_Name, Account_Name.Account_Name, Account_Name.Parent_Account.Account_Name "
        "from Contacts where Account_Name.Account_Name = 'Zylker'",
    )
    assert status == 200, body
    assert body["data"] == [
        {
            "Last_Name": "Boyle",
            "Account_Name.Account_Name": "Zylker",
            "Account_Name.Parent_Account.Account_Name": "Zylker Group",
            "id": boyle,
        }
    ]
    status, body = await _coql(
        crm, "select Last_Name from Contacts where Account_Name.Parent_Account.Account_Name is null"
    )
    assert [r["Last_Name"] for r in body["data"]] == ["Loner"]


async def test_what_id_arrow_column_and_no_display_name(crm: Client) -> None:
    (deal,) = await crm.insert("Deals", {"Deal_Name": "Big", "Stage": "Qualification"})
    (lead,) = await crm.insert("Leads", {"Last_Name": "Lee"})
    await crm.insert(
        "Tasks",
        {"Subject": "a", "What_Id": {"id": deal}, "$se_module": "Deals"},
        {"Subject": "b", "What_Id": {"id": lead}, "$se_module": "Leads"},
    )
    status, body = await _coql(
        crm,
        "select Subject, 'What_Id->Deals.Deal_Name', What_Id from Tasks "
        "where id is not null order by Subject",
    )
    assert status == 200, body
    rows = [(r["Subject"], r["What_Id->Deals.Deal_Name"], r["What_Id"]) for r in body["data"]]
    assert rows == [("a", "Big", {"id": deal}), ("b", None, {"id": lead})]
    status, body = await _coql(
        crm, "select Subject from Tasks where What_Id->Deals.Deal_Name = 'Big'"
    )
    assert [r["Subject"] for r in body["data"]] == ["a"]


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ("Amount between 100 and 200", ["b"]),
        ("Amount not between 100 and 200", ["a", "c"]),
        ("Closing_Date between '2024-02-01' and '2024-03-31'", ["b", "c"]),
        ("Created_Time between '2000-01-01T00:00:00+00:00' and '2100-01-01T00:00:00+00:00'",
         ["a", "b", "c"]),
    ],
)  # fmt: skip
async def test_between(crm: Client, where: str, names: list[str]) -> None:
    await crm.insert(
        "Deals",
        {"Deal_Name": "a", "Stage": "Qualification", "Amount": 50, "Closing_Date": "2024-01-15"},
        {"Deal_Name": "b", "Stage": "Qualification", "Amount": 150, "Closing_Date": "2024-02-15"},
        {"Deal_Name": "c", "Stage": "Qualification", "Amount": 250, "Closing_Date": "2024-03-15"},
    )
    status, body = await _coql(crm, f"select Deal_Name from Deals where {where} order by Deal_Name")
    assert status == 200, body
    assert [r["Deal_Name"] for r in body["data"]] == names


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select Last_Name from Contacts order by Last_Name, last_name desc", "DUPLICATE_DATA"),
        ("select Account_Name.Nope from Contacts", "INVALID_QUERY"),
        ("select Account_Name.Parent_Account.Parent_Account.Account_Name from Contacts",
         "INVALID_QUERY"),
        ("select 'What_Id->Contacts.Last_Name' from Tasks", "INVALID_QUERY"),
        ("select Last_Name from Contacts where Last_Name between 'a' and 'b'", "INVALID_QUERY"),
    ],
)  # fmt: skip
async def test_errors(crm: Client, query: str, code: str) -> None:
    status, body = await _coql(crm, query)
    assert (status, body["code"]) == (400, code)
