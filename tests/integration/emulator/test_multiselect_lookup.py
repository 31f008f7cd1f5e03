"""Multi-select lookups over HTTP: rows are linking records ``{"Accounts": {name, id}, "id"}``
(Kaizen #199, the v8 SDK's create/update samples), shown only by single-record GETs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, admin, login, make_config
from zoho_emulator import Emulator

FIELD = {
    "api_name": "Accounts_Linked",
    "data_type": "multiselectlookup",
    "lookup_module": "Accounts",
}


@pytest.fixture
async def crm(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    config = make_config(alpha={"modules": {"Contacts": {"fields": [FIELD]}}})
    async with Emulator(config) as emu:
        yield await login(session, emu, "alpha")


async def _get(client: Client, rid: str) -> dict[str, Any]:
    status, body, _ = await client.call("GET", f"/crm/v8/Contacts/{rid}")
    assert status == 200, body
    record: dict[str, Any] = body["data"][0]
    return record


async def _linked(client: Client, *accounts: str) -> tuple[str, list[str]]:
    ids = await client.insert("Accounts", *({"Account_Name": a} for a in accounts))
    rows = [{"Accounts": {"id": a}} for a in ids]
    (contact,) = await client.insert("Contacts", {"Last_Name": "Boyle", "Accounts_Linked": rows})
    return contact, ids


def _connected(record: dict[str, Any]) -> list[str]:
    return [row["Accounts"]["id"] for row in record["Accounts_Linked"]]


async def test_metadata_is_the_v8_multiselectlookup_shape(crm: Client) -> None:
    _, body, _ = await crm.call("GET", "/crm/v8/settings/fields", params={"module": "Contacts"})
    (field,) = [f for f in body["fields"] if f["api_name"] == "Accounts_Linked"]
    assert (field["data_type"], field["json_type"]) == ("multiselectlookup", "jsonarray")
    meta = field["multiselectlookup"]
    assert meta["linking_details"]["module"]["api_name"] == "Contacts_X_Accounts"
    assert meta["linking_details"]["lookup_field"]["api_name"] == "Contacts"
    assert meta["linking_details"]["connected_lookup_field"]["api_name"] == "Accounts"
    assert meta["connected_details"]["module"]["api_name"] == "Accounts"


async def test_rows_written_on_insert_are_read_back_by_a_single_get(crm: Client) -> None:
    contact, (zylker, acme) = await _linked(crm, "Zylker", "Acme")
    rows = (await _get(crm, contact))["Accounts_Linked"]
    assert [row["Accounts"] for row in rows] == [
        {"name": "Zylker", "id": zylker},
        {"name": "Acme", "id": acme},
    ]
    ids = {row["id"] for row in rows}  # linking records: ids of their own
    assert len(ids) == 2 and not ids & {zylker, acme, contact}
    assert all(len(i) == 19 and i.isdigit() for i in ids)


async def test_list_get_does_not_show_the_rows(crm: Client) -> None:
    contact, _ = await _linked(crm, "Zylker")
    params = {"fields": "Last_Name,Accounts_Linked"}
    status, body, _ = await crm.call("GET", "/crm/v8/Contacts", params=params)
    assert status == 200
    (record,) = body["data"]
    assert record["id"] == contact and "Accounts_Linked" not in record


async def test_update_adds_a_row_and_deletes_one_keeping_the_rest(crm: Client) -> None:
    contact, (zylker, acme) = await _linked(crm, "Zylker", "Acme")
    (globex,) = await crm.insert("Accounts", {"Account_Name": "Globex"})
    before = await _get(crm, contact)
    zylker_row, acme_row = before["Accounts_Linked"]
    crm.emu.state.advance(5)
    rows = [
        {"id": zylker_row["id"], "_delete": None, "Accounts": {"id": zylker}},
        {"Accounts": {"id": globex}},
    ]
    body = {"data": [{"id": contact, "Accounts_Linked": rows}]}
    status, answer, _ = await crm.call("PUT", "/crm/v8/Contacts", json=body)
    assert status == 200, answer
    after = await _get(crm, contact)
    assert _connected(after) == [acme, globex]
    assert after["Accounts_Linked"][0]["id"] == acme_row["id"]  # the row not sent is kept as is
    assert after["Modified_Time"] > before["Modified_Time"]


async def test_a_row_change_is_an_update_in_the_write_log(
    crm: Client, session: aiohttp.ClientSession
) -> None:
    contact, _ = await _linked(crm, "Zylker")
    (acme,) = await crm.insert("Accounts", {"Account_Name": "Acme"})
    body = {"data": [{"Accounts_Linked": [{"Accounts": {"id": acme}}]}]}
    status, _, _ = await crm.call("PUT", f"/crm/v8/Contacts/{contact}", json=body)
    assert status == 200
    _, log = await admin(session, crm.emu, "GET", "/orgs/alpha/log")
    assert (log[-1]["module"], log[-1]["id"], log[-1]["op"]) == ("Contacts", contact, "update")


async def test_an_unknown_connected_id_fails_the_record(crm: Client) -> None:
    (zylker,) = await crm.insert("Accounts", {"Account_Name": "Zylker"})
    rows = [{"Accounts": {"id": zylker}}, {"Accounts": {"id": "111"}}]
    body = {"data": [{"Last_Name": "Boyle", "Accounts_Linked": rows}]}
    status, answer, _ = await crm.call("POST", "/crm/v8/Contacts", json=body)
    assert status == 400
    (entry,) = answer["data"]
    assert entry["code"] == "INVALID_DATA"
    assert entry["details"] == {
        "id": "111",
        "api_name": "Accounts",
        "json_path": "$.data[0].Accounts_Linked[1].Accounts",
    }


async def test_a_value_that_is_not_a_list_is_invalid_data(crm: Client) -> None:
    body = {"data": [{"Last_Name": "Boyle", "Accounts_Linked": {"Accounts": {"id": "1"}}}]}
    _, answer, _ = await crm.call("POST", "/crm/v8/Contacts", json=body)
    (entry,) = answer["data"]
    assert entry["details"]["expected_data_type"] == "jsonarray"


async def test_a_row_without_the_connected_record_is_mandatory_not_found(crm: Client) -> None:
    body = {"data": [{"Last_Name": "Boyle", "Accounts_Linked": [{"name": "Zylker"}]}]}
    _, answer, _ = await crm.call("POST", "/crm/v8/Contacts", json=body)
    (entry,) = answer["data"]
    assert entry["code"] == "MANDATORY_NOT_FOUND"
    assert entry["details"]["json_path"] == "$.data[0].Accounts_Linked[0].Accounts"


async def test_an_unknown_row_id_is_invalid_data(crm: Client) -> None:
    contact, _ = await _linked(crm, "Zylker")
    body = {"data": [{"Accounts_Linked": [{"id": "222", "_delete": None}]}]}
    _, answer, _ = await crm.call("PUT", f"/crm/v8/Contacts/{contact}", json=body)
    (entry,) = answer["data"]
    assert entry["code"] == "INVALID_DATA"
    assert entry["details"]["json_path"] == "$.data[0].Accounts_Linked[0].id"


async def test_upsert_links_more_records_and_a_record_is_linked_once(crm: Client) -> None:
    contact, (zylker,) = await _linked(crm, "Zylker")
    (acme,) = await crm.insert("Accounts", {"Account_Name": "Acme"})
    await crm.call("PUT", f"/crm/v8/Contacts/{contact}", json={"data": [{"Email": "p@x.com"}]})
    rows = [{"Accounts": {"id": zylker}}, {"Accounts": {"id": acme}}]
    body = {"data": [{"Last_Name": "Boyle", "Email": "p@x.com", "Accounts_Linked": rows}]}
    status, answer, _ = await crm.call("POST", "/crm/v8/Contacts/upsert", json=body)
    assert status == 200 and answer["data"][0]["action"] == "update", answer
    assert _connected(await _get(crm, contact)) == [zylker, acme]


async def test_deleting_a_connected_record_removes_its_rows(crm: Client) -> None:
    contact, (zylker, acme) = await _linked(crm, "Zylker", "Acme")
    status, _, _ = await crm.call("DELETE", f"/crm/v8/Accounts/{zylker}")
    assert status == 200
    assert _connected(await _get(crm, contact)) == [acme]
