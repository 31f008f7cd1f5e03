"""External ID fields (reference §22): X-EXTERNAL reads and writes, lookups by external value."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import BASE_CONFIG, Client, login, make_config, token_call
from zoho_emulator import ConfigError, Emulator, EmulatorState, load_config

EXT = {"X-EXTERNAL": "Accounts.External_Account_ID"}
REP = {"client_id": "1000.REPCLIENT", "client_secret": "rep-secret", "user": "rep@alpha.example",
       "refresh_tokens": ["1000.rep.token"]}  # fmt: skip


def _ext(name: str, kind: str = "org") -> dict[str, Any]:
    return {"api_name": name, "data_type": "text", "external": kind}


def _config() -> dict[str, Any]:
    clients = [*copy.deepcopy(BASE_CONFIG["orgs"]["alpha"]["clients"]), REP]
    modules = {
        **copy.deepcopy(BASE_CONFIG["orgs"]["alpha"]["modules"]),
        "Accounts": {"fields": [_ext("External_Account_ID")]},
        "Contacts": {"fields": [_ext("External_Contact_ID", "user")]},
        "Products": {"fields": [_ext("External_Product_ID")]},
        "Quotes": {},
        "Tasks": {},
    }
    return make_config(alpha={"clients": clients, "modules": modules})


@pytest.fixture
async def ext_emu() -> AsyncIterator[Emulator]:
    async with Emulator(_config()) as running:
        yield running


@pytest.fixture
async def admin(ext_emu: Emulator, session: aiohttp.ClientSession) -> Client:
    return await login(session, ext_emu)


@pytest.fixture
async def rep(ext_emu: Emulator, session: aiohttp.ClientSession) -> Client:
    _, tokens = await token_call(
        session, ext_emu, grant_type="refresh_token", client_id=REP["client_id"],
        client_secret=REP["client_secret"], refresh_token=REP["refresh_tokens"][0],
    )  # fmt: skip
    return Client(ext_emu, session, tokens["access_token"])


async def _account(client: Client, name: str, ext: str) -> str:
    (rid,) = await client.insert("Accounts", {"Account_Name": name, "External_Account_ID": ext})
    return rid


async def test_field_metadata_shows_the_external_flag(admin: Client) -> None:
    _, body, _ = await admin.call("GET", "/crm/v8/settings/fields?module=Contacts")
    fields = {f["api_name"]: f for f in body["fields"]}
    assert fields["External_Contact_ID"]["external"] == {
        "show": True,
        "type": "user",
        "allow_multiple_config": False,
    }
    assert fields["Last_Name"]["external"] is None


async def test_get_by_external_value(admin: Client) -> None:
    rid = await _account(admin, "Zylker", "acc-1")
    status, body, _ = await admin.call("GET", "/crm/v8/Accounts/acc-1", headers=EXT)
    assert status == 200 and body["data"][0]["id"] == rid
    assert (await admin.call("GET", "/crm/v8/Accounts/acc-2", headers=EXT))[0] == 204
    status, body, _ = await admin.call("GET", "/crm/v8/Accounts/acc-1")  # no header
    assert (status, body["code"]) == (404, "INVALID_URL_PATTERN")


async def test_a_numeric_external_value_is_a_value_with_the_header(admin: Client) -> None:
    rid = await _account(admin, "Zylker", "12345678900")
    status, body, _ = await admin.call("GET", "/crm/v8/Accounts/12345678900", headers=EXT)
    assert status == 200 and body["data"][0]["id"] == rid


async def test_list_by_external_ids(admin: Client) -> None:
    one, two = await _account(admin, "A", "acc-1"), await _account(admin, "B", "acc-2")
    await _account(admin, "C", "acc-3")
    path = "/crm/v8/Accounts?fields=Account_Name&ids=acc-1,acc-2,nope"
    _, body, _ = await admin.call("GET", path, headers=EXT)
    assert sorted(r["id"] for r in body["data"]) == sorted([one, two])


async def test_update_by_external_value_in_the_path_and_in_the_body(admin: Client) -> None:
    rid = await _account(admin, "Zylker", "acc-1")
    status, body, _ = await admin.call(
        "PUT", "/crm/v8/Accounts/acc-1", headers=EXT, json={"data": [{"Phone": "1"}]}
    )
    assert status == 200
    assert body["data"][0]["details"]["External_Account_ID"] == "acc-1"
    assert body["data"][0]["details"]["id"] == rid
    data = [{"External_Account_ID": "acc-1", "Phone": "2"}, {"External_Account_ID": "nope"}]
    status, body, _ = await admin.call("PUT", "/crm/v8/Accounts", headers=EXT, json={"data": data})
    assert status == 207
    assert body["data"][0]["status"] == "success"
    assert body["data"][1]["code"] == "INVALID_DATA"
    assert body["data"][1]["details"]["api_name"] == "External_Account_ID"
    _, got, _ = await admin.call("GET", f"/crm/v8/Accounts/{rid}")
    assert got["data"][0]["Phone"] == "2"


async def test_delete_by_external_values(admin: Client) -> None:
    rid = await _account(admin, "Zylker", "acc-1")
    status, body, _ = await admin.call("DELETE", "/crm/v8/Accounts?ids=acc-1,nope", headers=EXT)
    assert status == 207
    assert body["data"][0]["details"] == {"External_Account_ID": "acc-1", "id": rid}
    assert body["data"][1]["code"] == "INVALID_DATA"


async def test_upsert_matches_on_the_external_field_without_a_header(admin: Client) -> None:
    rid = await _account(admin, "Zylker", "acc-1")
    record = {"Account_Name": "Zylker Inc", "External_Account_ID": "acc-1"}
    _, body, _ = await admin.call("POST", "/crm/v8/Accounts/upsert", json={"data": [record]})
    entry = body["data"][0]
    assert (entry["action"], entry["duplicate_field"]) == ("update", "External_Account_ID")
    assert entry["details"]["id"] == rid


async def test_an_org_based_value_is_unique_in_the_module(admin: Client, rep: Client) -> None:
    await _account(admin, "Zylker", "acc-1")
    record = {"Account_Name": "Other", "External_Account_ID": "acc-1"}
    status, body, _ = await rep.call("POST", "/crm/v8/Accounts", json={"data": [record]})
    assert (status, body["data"][0]["code"]) == (400, "DUPLICATE_DATA")


async def test_a_user_based_value_belongs_to_the_user_who_set_it(
    admin: Client, rep: Client
) -> None:
    header = {"X-EXTERNAL": "Contacts.External_Contact_ID"}
    contact = {"Last_Name": "Boyle", "External_Contact_ID": "c-1"}
    (mine,) = await admin.insert("Contacts", contact)
    assert (await rep.call("GET", "/crm/v8/Contacts/c-1", headers=header))[0] == 204
    (theirs,) = await rep.insert("Contacts", contact)  # not a duplicate: another user's value
    _, body, _ = await rep.call("GET", "/crm/v8/Contacts/c-1", headers=header)
    assert body["data"][0]["id"] == theirs != mine
    status, body, _ = await admin.call("POST", "/crm/v8/Contacts", json={"data": [contact]})
    assert (status, body["data"][0]["code"]) == (400, "DUPLICATE_DATA")


async def test_a_lookup_names_its_parent_by_external_value(admin: Client) -> None:
    account = await _account(admin, "Zylker", "acc-1")
    other = await _account(admin, "Other", "acc-2")
    header = {"X-EXTERNAL": "Contacts.Account_Name.External_Account_ID"}
    data = [
        {"Last_Name": "A", "Account_Name": {"External_Account_ID": "acc-1"}},
        {"Last_Name": "B", "Account_Name": {"External_Account_ID": "acc-1", "id": other}},
        {"Last_Name": "C", "Account_Name": {"External_Account_ID": "nope"}},
    ]
    status, body, _ = await admin.call(
        "POST", "/crm/v8/Contacts", headers=header, json={"data": data}
    )
    assert status == 207
    assert body["data"][2]["code"] == "INVALID_DATA"
    assert body["data"][2]["details"]["json_path"] == "$.data[2].Account_Name.External_Account_ID"
    for entry in body["data"][:2]:  # with the header the external value wins over an id
        _, got, _ = await admin.call("GET", f"/crm/v8/Contacts/{entry['details']['id']}")
        assert got["data"][0]["Account_Name"]["id"] == account


async def test_line_items_and_what_id_by_external_value(admin: Client) -> None:
    (product,) = await admin.insert(
        "Products", {"Product_Name": "Bolt", "External_Product_ID": "p-1", "Unit_Price": 2}
    )
    account = await _account(admin, "Zylker", "acc-1")
    header = {"X-EXTERNAL": "Quotes.Quoted_Items.Product_Name.External_Product_ID"}
    items = [{"Product_Name": {"External_Product_ID": "p-1"}, "Quantity": 3}]
    quote = {"Subject": "Q", "Quoted_Items": items}
    (qid,) = [
        e["details"]["id"]
        for e in (
            await admin.call("POST", "/crm/v8/Quotes", headers=header, json={"data": [quote]})
        )[1]["data"]
    ]
    _, got, _ = await admin.call("GET", f"/crm/v8/Quotes/{qid}")
    assert got["data"][0]["Quoted_Items"][0]["Product_Name"]["id"] == product
    header = {"X-EXTERNAL": "Tasks.What_Id->Accounts.External_Account_ID"}
    task = {
        "Subject": "Call",
        "What_Id": {"External_Account_ID": "acc-1"},
        "$se_module": "Accounts",
    }
    status, body, _ = await admin.call(
        "POST", "/crm/v8/Tasks", headers=header, json={"data": [task]}
    )
    assert status == 201, body
    _, got, _ = await admin.call("GET", f"/crm/v8/Tasks/{body['data'][0]['details']['id']}")
    assert got["data"][0]["What_Id"]["id"] == account


@pytest.mark.parametrize(
    "header", ["Accounts.Account_Name", "Contacts.External_Contact_ID", "Accounts.Nope.X"]
)
async def test_a_header_naming_no_external_field_is_refused(admin: Client, header: str) -> None:
    status, body, _ = await admin.call("GET", "/crm/v8/Accounts/x", headers={"X-EXTERNAL": header})
    assert (status, body["code"], body["details"]["api_name"]) == (
        400,
        "INVALID_DATA",
        "X-EXTERNAL",
    )


def test_external_only_on_text_fields() -> None:
    config = _config()
    config["orgs"]["alpha"]["modules"]["Accounts"]["fields"][0]["data_type"] = "integer"
    with pytest.raises(ConfigError, match="external"):
        EmulatorState(load_config(config))
