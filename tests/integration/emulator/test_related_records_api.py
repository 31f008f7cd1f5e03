"""Related lists (reference §17): Products ↔ Price_Books links with a list price seen from both
sides, lookup views, delink, the documented errors, relations dropped with their record, the
related-action hook, and /settings/related_lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator


@pytest.fixture
async def org(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    config = make_config(alpha={"modules": {"Price_Books": {}, "Products": {}}})
    async with Emulator(config) as emu:
        yield await login(session, emu, "alpha")


async def _catalogue(org: Client) -> tuple[str, str, str]:
    widget, gadget = await org.insert("Products", {"Product_Name": "W"}, {"Product_Name": "G"})
    (book,) = await org.insert("Price_Books", {"Price_Book_Name": "Retail"})
    return widget, gadget, book


async def _read(org: Client, module: str, rid: str, related: str, fields: str) -> Any:
    status, body, _ = await org.call("GET", f"/crm/v8/{module}/{rid}/{related}?fields={fields}")
    return body["data"] if status == 200 else status


async def test_price_book_links_carry_their_list_price_on_both_sides(org: Client) -> None:
    widget, gadget, book = await _catalogue(org)
    rows = [{"id": widget, "list_price": 9.5}, {"id": gadget, "list_price": 3}]
    status, body, _ = await org.call(
        "PUT", f"/crm/v8/Price_Books/{book}/Products", json={"data": rows}
    )
    assert status == 200, body
    assert [(e["message"], e["details"]["id"]) for e in body["data"]] == [
        ("relation added", widget),
        ("relation added", gadget),
    ]
    listed = await _read(org, "Price_Books", book, "Products", "Product_Name")
    assert {(r["Product_Name"], r["list_price"]) for r in listed} == {("W", 9.5), ("G", 3)}
    # the other side, and a change of the price through PUT .../{related_id}
    path = f"/crm/v8/Products/{widget}/Price_Books/{book}"
    status, _, _ = await org.call("PUT", path, json={"data": [{"list_price": 11}]})
    assert status == 200
    [seen] = await _read(org, "Products", widget, "Price_Books", "Price_Book_Name")
    assert (seen["id"], seen["Price_Book_Name"], seen["list_price"]) == (book, "Retail", 11)


async def test_a_price_book_link_needs_a_list_price(org: Client) -> None:
    widget, gadget, book = await _catalogue(org)
    body_rows = {"data": [{"id": widget}, {"id": gadget, "list_price": 2}]}
    status, body, _ = await org.call("PUT", f"/crm/v8/Products/{book}/Price_Books", json=body_rows)
    assert (status, body["details"]) == (400, {"resource_path_index": 1})  # a book is no product
    status, body, _ = await org.call("PUT", f"/crm/v8/Price_Books/{book}/Products", json=body_rows)
    assert status == 207
    assert body["data"][0] == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "list_price", "json_path": "$.data[0].list_price"},
        "message": "required field not found",
        "status": "error",
    }
    [only] = await _read(org, "Price_Books", book, "Products", "Product_Name")
    assert only["id"] == gadget


async def test_delink_removes_only_the_relation(org: Client) -> None:
    widget, gadget, book = await _catalogue(org)
    rows = [{"id": widget, "list_price": 1}, {"id": gadget, "list_price": 2}]
    await org.call("PUT", f"/crm/v8/Price_Books/{book}/Products", json={"data": rows})
    path = f"/crm/v8/Price_Books/{book}/Products?ids={widget},{gadget},{widget}0"
    status, body, _ = await org.call("DELETE", path)
    assert status == 207
    assert [e["message"] for e in body["data"]] == [
        "relation removed",
        "relation removed",
        "relation not found",
    ]
    assert await _read(org, "Products", widget, "Price_Books", "Price_Book_Name") == 204
    status, _, _ = await org.call("GET", f"/crm/v8/Products/{widget}")
    assert status == 200  # delinked, not deleted


async def test_plain_links_and_lookup_views(org: Client) -> None:
    widget, _, _ = await _catalogue(org)
    (account,) = await org.insert("Accounts", {"Account_Name": "Acme"})
    (contact,) = await org.insert("Contacts", {"Last_Name": "Doe", "Account_Name": {"id": account}})
    status, _, _ = await org.call(
        "PUT", f"/crm/v8/Accounts/{account}/Products", json={"data": [{"id": widget}]}
    )
    assert status == 200
    [linked] = await _read(org, "Products", widget, "Accounts", "Account_Name")
    assert (linked["id"], linked["Account_Name"]) == (account, "Acme")
    [member] = await _read(org, "Accounts", account, "Contacts", "Last_Name")
    assert member["id"] == contact
    status, body, _ = await org.call(
        "PUT", f"/crm/v8/Accounts/{account}/Contacts", json={"data": [{"id": contact}]}
    )
    assert (status, body["code"]) == (400, "INVALID_REQUEST_METHOD")


async def test_path_and_limit_errors(org: Client) -> None:
    widget, _, book = await _catalogue(org)
    status, body, _ = await org.call("GET", f"/crm/v8/Products/{book}/Price_Books?fields=id")
    assert (status, body["code"], body["details"]) == (
        400,
        "INVALID_DATA",
        {"resource_path_index": 1},
    )
    status, body, _ = await org.call("GET", f"/crm/v8/Products/{widget}/Vendorz?fields=id")
    assert (status, body["details"]) == (400, {"resource_path_index": 2})
    status, body, _ = await org.call("GET", f"/crm/v8/Products/{widget}/Price_Books")
    assert (status, body["code"]) == (400, "REQUIRED_PARAM_MISSING")
    ids = ",".join(str(10**18 + n) for n in range(101))
    status, body, _ = await org.call("DELETE", f"/crm/v8/Products/{widget}/Leads?ids={ids}")
    assert (status, body["code"]) == (400, "LIMIT_EXCEEDED")


async def test_deleting_a_record_drops_its_relations(org: Client) -> None:
    widget, gadget, book = await _catalogue(org)
    rows = [{"id": widget, "list_price": 1}, {"id": gadget, "list_price": 2}]
    await org.call("PUT", f"/crm/v8/Price_Books/{book}/Products", json={"data": rows})
    status, _, _ = await org.call("DELETE", f"/crm/v8/Products/{widget}")
    assert status == 200
    listed = await _read(org, "Price_Books", book, "Products", "Product_Name")
    assert [r["id"] for r in listed] == [gadget]
    status, body, _ = await org.call("DELETE", f"/crm/v8/Price_Books/{book}/Products/{widget}")
    assert (status, body["data"][0]["message"]) == (400, "relation not found")
    await org.call("DELETE", f"/crm/v8/Price_Books/{book}")
    assert await _read(org, "Products", gadget, "Price_Books", "Price_Book_Name") == 204


async def test_link_and_delink_are_related_actions_on_both_records(org: Client) -> None:
    widget, _, book = await _catalogue(org)
    seen: list[tuple[str, tuple[str, ...], str]] = []
    org.emu.state.orgs["alpha"].add_related_listener(lambda m, ids, k: seen.append((m, ids, k)))
    rows = {"data": [{"id": widget, "list_price": 1}]}
    await org.call("PUT", f"/crm/v8/Products/{widget}/Price_Books", json={"data": [{"id": book}]})
    await org.call("PUT", f"/crm/v8/Products/{widget}/Price_Books", json=rows)  # wrong side: fails
    assert seen == []
    await org.call("PUT", f"/crm/v8/Price_Books/{book}/Products", json=rows)
    await org.call("DELETE", f"/crm/v8/Products/{widget}/Price_Books/{book}")
    both = [("Price_Books", (book,), "Products"), ("Products", (widget,), "Price_Books")]
    assert seen == [both[0], both[1], both[1], both[0]]


async def test_related_lists_metadata_follows_the_org_modules(
    org: Client, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await org.call("GET", "/crm/v8/settings/related_lists?module=Price_Books")
    assert status == 200
    lists = {rl["api_name"]: rl for rl in body["related_lists"]}
    assert lists["Products"]["module"]["api_name"] == "Products"
    assert lists["Products"]["href"] == "Price_Books/{ENTITYID}/Products"
    status, body, _ = await org.call("GET", "/crm/v8/settings/related_lists?module=Accounts")
    assert {"Products", "Contacts", "Deals"} <= {rl["api_name"] for rl in body["related_lists"]}
    status, body, _ = await org.call("GET", "/crm/v8/settings/related_lists")
    assert (status, body["code"]) == (400, "REQUIRED_PARAM_MISSING")
    plain = await login(session, org.emu, "beta")  # lists no inventory module
    (lead,) = await plain.insert("Leads", {"Last_Name": "Doe"})
    status, body, _ = await plain.call("GET", f"/crm/v8/Leads/{lead}/Products?fields=id")
    assert (status, body["details"]) == (400, {"resource_path_index": 2})
