"""Inventory modules and line items as Zoho v8 documents them (reference §16): the Quote's
field metadata with its Quoted_Items subform, rows with their own ids, totals, row updates by id,
the documented errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator

MODULES = {
    "Quotes": {},
    "Sales_Orders": {},
    "Invoices": {},
    "Purchase_Orders": {},
    "Price_Books": {},
    "Tasks": {},
    "Events": {},
    "Calls": {},
    "Notes": {},
    "Leads": {},
}


@pytest.fixture
async def inv(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    config = make_config(alpha={"modules": MODULES})
    async with Emulator(config) as emu:
        yield await login(session, emu, "alpha")


async def _products(client: Client) -> list[str]:
    return await client.insert(
        "Products",
        {"Product_Name": "Widget", "Product_Code": "W-1", "Unit_Price": 100},
        {"Product_Name": "Gadget", "Product_Code": "G-1", "Unit_Price": 25.5},
        {"Product_Name": "Gizmo", "Unit_Price": 10},
    )


async def _get(client: Client, module: str, rid: str) -> dict[str, Any]:
    status, body, _ = await client.call("GET", f"/crm/v8/{module}/{rid}")
    assert status == 200, body
    record: dict[str, Any] = body["data"][0]
    return record


async def _quote(client: Client) -> tuple[str, list[str]]:
    widget, gadget, gizmo = await _products(client)
    (quote,) = await client.insert(
        "Quotes",
        {
            "Subject": "Q-1",
            "Discount": 5,
            "Tax": 2,
            "Adjustment": 1,
            "Quoted_Items": [
                {"Product_Name": {"id": widget}, "Quantity": 2, "Discount": 10},
                {
                    "Product_Name": {"id": gadget},
                    "Quantity": 4,
                    "List_Price": 20,
                    "Line_Tax": [{"name": "VAT", "percentage": 10}],
                },
                {"Product_Name": {"id": gizmo}, "Quantity": 1},
            ],
        },
    )
    return quote, [widget, gadget, gizmo]


async def test_quote_field_metadata_shows_the_line_item_subform(inv: Client) -> None:
    status, body, _ = await inv.call("GET", "/crm/v8/settings/fields", params={"module": "Quotes"})
    assert status == 200
    fields = {f["api_name"]: f for f in body["fields"]}
    assert fields["Subject"]["system_mandatory"] is True
    items = fields["Quoted_Items"]
    assert (items["data_type"], items["json_type"]) == ("subform", "jsonarray")
    assert items["associated_module"]["module"] == "Quoted_Items"
    assert items["associated_module"]["api_name"] == "Quoted_Items"  # [oas] Minified_Module
    assert fields["Account_Name"]["lookup"]["module"]["api_name"] == "Accounts"
    for name in ("Sub_Total", "Grand_Total"):
        assert (fields[name]["data_type"], fields[name]["read_only"]) == ("currency", True)
    status, body, _ = await inv.call(
        "GET", "/crm/v8/settings/fields", params={"module": "Quoted_Items"}
    )
    rows = {f["api_name"]: f for f in body["fields"]}
    assert rows["Product_Name"]["lookup"]["module"]["api_name"] == "Products"
    assert rows["Net_Total"]["read_only"] is True
    assert {"Quantity", "List_Price", "Discount", "Line_Tax", "Total"} <= set(rows)


async def test_quote_with_three_rows_computes_row_and_record_totals(inv: Client) -> None:
    quote, (widget, gadget, _) = await _quote(inv)
    got = await _get(inv, "Quotes", quote)
    rows = got["Quoted_Items"]
    assert all(r["id"] and r["id"].isdigit() for r in rows) and len({r["id"] for r in rows}) == 3
    first, second, third = rows
    assert first["Product_Name"] == {"name": "Widget", "id": widget, "Product_Code": "W-1"}
    # List_Price defaults to the product's Unit_Price; Total = List_Price × Quantity
    assert (first["List_Price"], first["Total"], first["Net_Total"]) == (100, 200, 190)
    assert second["Line_Tax"] == [{"name": "VAT", "percentage": 10.0, "value": 8.0}]
    assert (second["Total"], second["Tax"], second["Net_Total"]) == (80, 8, 88)
    assert [r["Sequence_Number"] for r in rows] == [1, 2, 3]
    assert third["Net_Total"] == 10
    assert got["Sub_Total"] == 288  # 190 + 88 + 10
    assert got["Grand_Total"] == 286  # 288 − 5 + 2 + 1


async def test_updating_one_row_by_id_changes_only_that_row(inv: Client) -> None:
    quote, _ = await _quote(inv)
    before = (await _get(inv, "Quotes", quote))["Quoted_Items"]
    body = {"data": [{"Quoted_Items": [{"id": before[1]["id"], "Quantity": 5}]}]}
    status, answer, _ = await inv.call("PUT", f"/crm/v8/Quotes/{quote}", json=body)
    assert status == 200, answer
    after = await _get(inv, "Quotes", quote)
    rows = after["Quoted_Items"]
    assert [r["id"] for r in rows] == [r["id"] for r in before]  # unlisted rows are kept
    assert (rows[1]["Quantity"], rows[1]["Net_Total"]) == (5, 110)
    assert rows[0] == before[0] and rows[2] == before[2]
    assert after["Sub_Total"] == 310


async def test_rows_are_added_without_id_and_removed_with_delete(inv: Client) -> None:
    quote, (widget, *_) = await _quote(inv)
    ids = [r["id"] for r in (await _get(inv, "Quotes", quote))["Quoted_Items"]]
    body = {
        "data": [
            {
                "id": quote,
                "Quoted_Items": [
                    {"id": ids[0], "_delete": None},
                    {"Product_Name": {"id": widget}, "Quantity": 1, "List_Price": 1},
                ],
            }
        ]
    }
    status, answer, _ = await inv.call("PUT", "/crm/v8/Quotes", json=body)
    assert status == 200, answer
    rows = (await _get(inv, "Quotes", quote))["Quoted_Items"]
    assert [r["id"] for r in rows][:2] == ids[1:] and len(rows) == 3
    assert rows[2]["id"] not in ids and rows[2]["Net_Total"] == 1


async def test_list_get_leaves_out_the_rows(inv: Client) -> None:
    await _quote(inv)
    status, body, _ = await inv.call(
        "GET", "/crm/v8/Quotes", params={"fields": "Subject,Quoted_Items,Grand_Total"}
    )
    assert status == 200
    (row,) = body["data"]
    assert "Quoted_Items" not in row and row["Grand_Total"] == 286


async def test_row_without_product_is_mandatory_not_found(inv: Client) -> None:
    await _products(inv)
    body = {"data": [{"Subject": "Q", "Quoted_Items": [{"Quantity": 1}]}]}
    status, answer, _ = await inv.call("POST", "/crm/v8/Quotes", json=body)
    assert status == 400
    assert answer["data"] == [
        {
            "code": "MANDATORY_NOT_FOUND",
            "details": {
                "api_name": "Product_Name",
                "json_path": "$.data[0].Quoted_Items[0].Product_Name",
            },
            "message": "required field not found",
            "status": "error",
        }
    ]


async def test_unknown_row_id_and_unknown_product_are_invalid_data(inv: Client) -> None:
    quote, _ = await _quote(inv)
    body = {"data": [{"Quoted_Items": [{"id": "123", "Quantity": 1}]}]}
    status, answer, _ = await inv.call("PUT", f"/crm/v8/Quotes/{quote}", json=body)
    assert status == 400
    assert answer["data"][0]["code"] == "INVALID_DATA"
    assert answer["data"][0]["details"]["json_path"] == "$.data[0].Quoted_Items[0].id"
    body = {
        "data": [{"Subject": "Q", "Quoted_Items": [{"Product_Name": {"id": "9"}, "Quantity": 1}]}]
    }
    status, answer, _ = await inv.call("POST", "/crm/v8/Quotes", json=body)
    details = answer["data"][0]["details"]
    assert (status, details["api_name"], details["id"]) == (400, "Product_Name", "9")


async def test_other_inventory_modules_use_their_v8_line_item_fields(inv: Client) -> None:
    (widget, *_) = await _products(inv)
    (vendor,) = await inv.insert("Vendors", {"Vendor_Name": "Acme"})
    row = [{"Product_Name": {"id": widget}, "Quantity": 3}]
    await inv.insert("Sales_Orders", {"Subject": "SO", "Ordered_Items": row})
    await inv.insert("Invoices", {"Subject": "INV", "Invoiced_Items": row})
    (po,) = await inv.insert(
        "Purchase_Orders", {"Subject": "PO", "Vendor_Name": {"id": vendor}, "Purchase_Items": row}
    )
    got = await _get(inv, "Purchase_Orders", po)
    assert got["Vendor_Name"] == {"name": "Acme", "id": vendor}
    assert got["Grand_Total"] == 300
    status, answer, _ = await inv.call(
        "POST",
        "/crm/v8/Purchase_Orders",
        json={"data": [{"Subject": "PO2", "Purchase_Items": row}]},
    )
    assert answer["data"][0]["details"]["api_name"] == "Vendor_Name"


async def test_modules_are_only_there_when_listed(alpha: Client) -> None:
    status, _, _ = await alpha.call("GET", "/crm/v8/Quotes", params={"fields": "Subject"})
    assert status == 400


async def test_unlisted_rows_are_removed_under_the_remove_switch(
    session: aiohttp.ClientSession,
) -> None:
    config = make_config(
        alpha={"modules": {"Quotes": {}}}, behaviour={"subform_unlisted_rows": "remove"}
    )
    async with Emulator(config) as emu:
        client = await login(session, emu, "alpha")
        quote, _ = await _quote(client)
        rows = (await _get(client, "Quotes", quote))["Quoted_Items"]
        body = {"data": [{"Quoted_Items": [{"id": rows[2]["id"]}]}]}
        status, _, _ = await client.call("PUT", f"/crm/v8/Quotes/{quote}", json=body)
        assert status == 200
        after = await _get(client, "Quotes", quote)
        assert [r["id"] for r in after["Quoted_Items"]] == [rows[2]["id"]]
        assert after["Sub_Total"] == 10


async def test_products_upsert_on_product_name(inv: Client) -> None:
    await _products(inv)
    body = {"data": [{"Product_Name": "widget", "Qty_in_Stock": 7}]}
    status, answer, _ = await inv.call("POST", "/crm/v8/Products/upsert", json=body)
    assert status == 200
    assert (answer["data"][0]["action"], answer["data"][0]["duplicate_field"]) == (
        "update",
        "Product_Name",
    )
