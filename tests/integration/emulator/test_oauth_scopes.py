"""OAuth scopes: each endpoint family answers 401 OAUTH_SCOPE_MISMATCH without its scope."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import BASE_CONFIG, Client, login, make_config, token_call
from zoho_emulator import ConfigError, Emulator, load_config

MISMATCH = {
    "code": "OAUTH_SCOPE_MISMATCH",
    "details": {},
    "message": "invalid oauth scope to access this URL",
    "status": "error",
}
ID = "1234567000000000001"  # no such record: the call gets past the scope check, then fails
COQL = {"select_query": "select Last_Name from Leads"}
BULK = {"query": {"module": {"api_name": "Leads"}}}
LEAD = {"data": [{"Last_Name": "Scoped"}]}


def _config(scopes: Sequence[str] | str | None, **changes: Any) -> dict[str, Any]:
    client = copy.deepcopy(BASE_CONFIG["orgs"]["alpha"]["clients"][0])
    if scopes is not None:
        client["scopes"] = scopes
    return make_config(alpha={"clients": [client], **changes})


@asynccontextmanager
async def _scoped(
    session: aiohttp.ClientSession, scopes: Sequence[str] | None, **changes: Any
) -> AsyncIterator[Client]:
    async with Emulator(_config(scopes, **changes)) as emu:
        yield await login(session, emu)


# family, method, path, JSON body, a grant that allows the call, a grant that does not
CASES: list[tuple[str, str, str, Any, list[str], list[str]]] = [
    ("list", "GET", "/Leads?fields=Last_Name", None, ["ZohoCRM.modules.leads.READ"],
     ["ZohoCRM.modules.contacts.ALL"]),
    ("get", "GET", f"/Leads/{ID}", None, ["ZohoCRM.modules.READ"], ["ZohoCRM.modules.CREATE"]),
    ("insert", "POST", "/Leads", LEAD, ["ZohoCRM.modules.leads.CREATE"],
     ["ZohoCRM.modules.leads.READ"]),
    ("update", "PUT", "/Leads", {"data": [{"id": ID}]}, ["ZohoCRM.modules.leads.UPDATE"],
     ["ZohoCRM.modules.leads.CREATE"]),
    ("upsert", "POST", "/Leads/upsert", LEAD, ["ZohoCRM.modules.leads.WRITE"],
     ["ZohoCRM.modules.leads.UPDATE"]),
    ("delete", "DELETE", f"/Leads?ids={ID}", None, ["ZohoCRM.modules.leads.DELETE"],
     ["ZohoCRM.modules.leads.WRITE"]),
    ("custom module", "GET", "/Projects?fields=Name", None, ["ZohoCRM.modules.custom.READ"],
     ["ZohoCRM.modules.projects.READ"]),
    ("deleted", "GET", "/Leads/deleted", None, ["ZohoCRM.modules.leads.READ"],
     ["ZohoCRM.modules.contacts.READ"]),
    ("search", "GET", "/Leads/search?email=a@b.example", None,
     ["ZohoCRM.modules.leads.READ", "ZohoSearch.securesearch.READ"], ["ZohoCRM.modules.ALL"]),
    ("fields", "GET", "/settings/fields?module=Leads", None, ["ZohoCRM.settings.fields.READ"],
     ["ZohoCRM.settings.modules.ALL"]),
    ("modules", "GET", "/settings/modules", None, ["ZohoCRM.settings.modules.READ"],
     ["ZohoCRM.settings.fields.READ"]),
    ("layouts", "GET", "/settings/layouts?module=Leads", None,
     ["ZohoCRM.settings.layouts.READ"], ["ZohoCRM.modules.ALL"]),
    ("related lists", "GET", "/settings/related_lists?module=Leads", None,
     ["ZohoCRM.settings.related_lists.READ"], ["ZohoCRM.settings.fields.READ"]),
    ("org", "GET", "/org", None, ["ZohoCRM.org.READ"], ["ZohoCRM.users.ALL"]),
    ("users", "GET", "/users?type=AllUsers", None, ["ZohoCRM.users.READ"], ["ZohoCRM.org.ALL"]),
    ("currencies", "GET", "/org/currencies", None, ["ZohoCRM.settings.currencies.READ"],
     ["ZohoCRM.org.ALL"]),
    ("add currency", "POST", "/org/currencies", {"currencies": []},
     ["ZohoCRM.settings.currencies.CREATE"], ["ZohoCRM.settings.currencies.READ"]),
    ("watch", "GET", "/actions/watch", None, ["ZohoCRM.notifications.READ"],
     ["ZohoCRM.notifications.CREATE"]),
    ("subscribe", "POST", "/actions/watch", {"watch": []}, ["ZohoCRM.notifications.CREATE"],
     ["ZohoCRM.notifications.READ"]),
    ("coql", "POST", "/coql", COQL, ["ZohoCRM.coql.READ", "ZohoCRM.modules.READ"],
     ["ZohoCRM.modules.ALL"]),
    ("coql module", "POST", "/coql", COQL, ["ZohoCRM.coql.READ", "ZohoCRM.modules.leads.READ"],
     ["ZohoCRM.coql.READ", "ZohoCRM.modules.contacts.READ"]),
    ("tags", "GET", "/settings/tags?module=Leads", None, ["ZohoCRM.settings.tags.READ"],
     ["ZohoCRM.modules.ALL"]),
    ("add_tags", "POST", f"/Leads/{ID}/actions/add_tags", {"tags": [{"name": "x"}]},
     ["ZohoCRM.modules.leads.WRITE"], ["ZohoCRM.modules.leads.READ"]),
    ("notes", "GET", f"/Leads/{ID}/Notes?fields=Note_Title", None,
     ["ZohoCRM.modules.leads.READ", "ZohoCRM.modules.notes.READ"],
     ["ZohoCRM.modules.leads.READ"]),
    ("attachments", "GET", f"/Leads/{ID}/Attachments?fields=File_Name", None,
     ["ZohoCRM.modules.leads.READ", "ZohoCRM.modules.attachments.READ"],
     ["ZohoCRM.modules.leads.ALL"]),
    ("related records", "GET", f"/Accounts/{ID}/Contacts?fields=Last_Name", None,
     ["ZohoCRM.modules.accounts.READ"], ["ZohoCRM.modules.contacts.READ"]),
    ("bulk read", "POST", "/bulk", BULK, ["ZohoCRM.bulk.read", "ZohoCRM.modules.leads.READ"],
     ["ZohoCRM.modules.ALL"]),
    ("bulk read module", "POST", "/bulk", BULK, ["ZohoCRM.bulk.ALL", "ZohoCRM.modules.ALL"],
     ["ZohoCRM.bulk.ALL", "ZohoCRM.modules.contacts.READ"]),
]  # fmt: skip
IDS = [case[0] for case in CASES]


async def _call(client: Client, method: str, path: str, body: Any) -> tuple[int, Any]:
    url = "/crm/bulk/v8/read" if path == "/bulk" else "/crm/v8" + path
    status, answer, _ = await client.call(method, url, json=body)
    return status, answer


@pytest.mark.parametrize(("family", "method", "path", "body", "allow", "deny"), CASES, ids=IDS)
async def test_a_call_outside_the_grant_is_refused(
    session: aiohttp.ClientSession, family, method, path, body, allow, deny
) -> None:
    async with _scoped(session, deny) as client:
        assert await _call(client, method, path, body) == (401, MISMATCH)


@pytest.mark.parametrize(("family", "method", "path", "body", "allow", "deny"), CASES, ids=IDS)
async def test_the_granted_scope_lets_the_call_through(
    session: aiohttp.ClientSession, family, method, path, body, allow, deny
) -> None:
    async with _scoped(session, allow) as client:
        status, answer = await _call(client, method, path, body)
    assert status != 401, answer


@pytest.mark.parametrize(
    ("scopes", "path"),
    [
        (["ZohoCRM.modules.ALL"], "/Leads?fields=Last_Name"),
        (["ZohoCRM.modules.leads.ALL"], "/Leads?fields=Last_Name"),
        (["zohocrm.modules.leads.read"], "/Leads?fields=Last_Name"),  # no case
        (["ZohoCRM.settings.ALL"], "/settings/fields?module=Leads"),
        (["ZohoCRM.settings.fields.ALL"], "/settings/fields?module=Leads"),
        (["ZohoCRM.settings.ALL"], "/settings/tags?module=Leads"),
        (["ZohoCRM.settings.ALL"], "/org/currencies"),
        (["ZohoCRM.org.ALL"], "/org"),
        (["ZohoCRM.users.ALL"], "/users"),
        (["ZohoCRM.notifications.ALL"], "/actions/watch"),
        (["ZohoCRM.modules.ALL"], f"/Leads/{ID}/Notes?fields=Note_Title"),
    ],
)
async def test_all_covers_read(session: aiohttp.ClientSession, scopes, path) -> None:
    async with _scoped(session, scopes) as client:
        status, answer = await _call(client, "GET", path, None)
    assert status != 401, answer


async def test_without_a_scope_list_every_call_is_allowed(session: aiohttp.ClientSession) -> None:
    async with _scoped(session, None) as client:
        assert (await _call(client, "POST", "/coql", COQL))[0] == 204


async def test_an_unknown_module_is_a_scope_mismatch_unless_all_modules_are_granted(
    session: aiohttp.ClientSession,
) -> None:
    async with _scoped(session, ["ZohoCRM.modules.leads.ALL"]) as client:
        assert await _call(client, "GET", "/Nope?fields=Name", None) == (401, MISMATCH)
    async with _scoped(session, ["ZohoCRM.modules.ALL"]) as client:
        status, answer = await _call(client, "GET", "/Nope?fields=Name", None)
    assert (status, answer["code"]) == (400, "INVALID_MODULE")


async def test_a_refused_call_costs_no_credit(session: aiohttp.ClientSession) -> None:
    async with _scoped(session, ["ZohoCRM.users.READ"]) as client:
        assert (await _call(client, "GET", "/Leads?fields=Last_Name", None))[0] == 401
        assert client.emu.state.orgs["alpha"].stats.credits_used == 0


async def test_tokens_from_a_grant_code_carry_the_clients_scopes(
    session: aiohttp.ClientSession,
) -> None:
    async with Emulator(_config(["ZohoCRM.users.READ"])) as emu:
        _, tokens = await token_call(
            session, emu, grant_type="authorization_code", code="1000.grant.alpha",
            client_id="1000.ALPHACLIENT", client_secret="alpha-secret",
        )  # fmt: skip
        client = Client(emu, session, tokens["access_token"])
        assert (await _call(client, "GET", "/users", None))[0] == 200
        assert await _call(client, "GET", "/org", None) == (401, MISMATCH)


async def test_a_bulk_job_is_read_with_bulk_read_or_the_modules_read(
    session: aiohttp.ClientSession,
) -> None:
    extra = [
        {"client_id": f"1000.{name}", "client_secret": "s", "refresh_tokens": [token],
         "scopes": scopes}
        for name, token, scopes in [
            ("BULK", "1000.bulk.token", ["ZohoCRM.bulk.READ", "ZohoCRM.modules.leads.READ"]),
            ("LEADS", "1000.leads.token", ["ZohoCRM.modules.leads.READ"]),
            ("OTHER", "1000.other.token", ["ZohoCRM.modules.contacts.READ"]),
        ]
    ]  # fmt: skip
    config = _config(None)
    config["orgs"]["alpha"]["clients"] += extra
    async with Emulator(config) as emu:
        bulk, leads, other = [await _token_client(session, emu, c) for c in extra]
        status, created = await _call(bulk, "POST", "/bulk", BULK)
        assert status == 201, created
        job = "/crm/bulk/v8/read/" + created["data"][0]["details"]["id"]
        assert (await leads.call("GET", job))[0] == 200
        assert (await other.call("GET", job))[:2] == (401, MISMATCH)


async def _token_client(
    session: aiohttp.ClientSession, emu: Emulator, client: dict[str, Any]
) -> Client:
    _, tokens = await token_call(
        session, emu, grant_type="refresh_token", client_id=client["client_id"],
        client_secret=client["client_secret"], refresh_token=client["refresh_tokens"][0],
    )  # fmt: skip
    return Client(emu, session, tokens["access_token"])


@pytest.mark.parametrize("bad", [["ZohoCRM.modules"], ["ZohoCRM..ALL"], "ZohoCRM"])
def test_a_malformed_scope_is_a_config_error(bad) -> None:
    with pytest.raises(ConfigError, match="scopes"):
        load_config(_config(bad))


def test_a_comma_separated_scope_string_is_accepted() -> None:
    config = load_config(_config("ZohoCRM.modules.ALL, ZohoCRM.users.READ"))
    assert config.orgs["alpha"].clients[0].scopes == ("ZohoCRM.modules.ALL", "ZohoCRM.users.READ")
