"""Related lists through the client, against the emulator: price books with list prices."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.zoho import ZohoClient
from connectors.zoho.errors import InvalidData
from tests.support.zoho_client import Emu, MakeClient


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    return {"modules": {"Products": {}, "Price_Books": {}}}


async def _catalogue(client: ZohoClient) -> tuple[str, str, str]:
    products = [{"Product_Name": "Widget"}, {"Product_Name": "Gadget"}]
    widget, gadget = [str(o.id) for o in await client.insert("Products", products, trigger=[])]
    [book] = await client.insert("Price_Books", [{"Price_Book_Name": "Retail"}], trigger=[])
    return widget, gadget, str(book.id)


async def test_products_linked_into_a_price_book_are_read_from_both_sides(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    widget, gadget, book = await _catalogue(client)
    rows = [{"id": widget, "list_price": 9.5}, {"id": gadget, "list_price": 4}]
    outcomes = await client.link_related("Price_Books", book, "Products", rows)
    assert [(o.ok, o.id) for o in outcomes] == [(True, widget), (True, gadget)]
    listed = await client.related_records("Price_Books", book, "Products", ["Product_Name"])
    assert {(r["Product_Name"], r["list_price"]) for r in listed} == {
        ("Widget", 9.5),
        ("Gadget", 4),
    }
    [seen] = await client.related_records("Products", gadget, "Price_Books", ["Price_Book_Name"])
    assert (seen["id"], seen["list_price"]) == (book, 4)


async def test_a_missing_list_price_is_a_failed_outcome(make_client: MakeClient) -> None:
    client = await make_client()
    widget, gadget, book = await _catalogue(client)
    rows = [{"id": widget}, {"id": gadget, "list_price": 1}]
    missing, linked = await client.link_related("Price_Books", book, "Products", rows)
    assert (missing.ok, missing.code, missing.details["api_name"]) == (
        False,
        "MANDATORY_NOT_FOUND",
        "list_price",
    )
    assert linked.ok
    listed = await client.related_records("Price_Books", book, "Products", ["Product_Name"])
    assert [r["id"] for r in listed] == [gadget]


async def test_delink_and_deleting_a_product_remove_relations(make_client: MakeClient) -> None:
    client = await make_client()
    widget, gadget, book = await _catalogue(client)
    rows = [{"id": widget, "list_price": 1}, {"id": gadget, "list_price": 2}]
    await client.link_related("Price_Books", book, "Products", rows)
    [removed] = await client.delink_related("Products", widget, "Price_Books", [book])
    assert (removed.ok, removed.id) == (True, book)
    assert await client.related_records("Products", widget, "Price_Books", ["id"]) == []
    await client.delete("Products", [gadget])
    assert await client.related_records("Price_Books", book, "Products", ["id"]) == []
    [gone] = await client.delink_related("Price_Books", book, "Products", [gadget])
    assert (gone.ok, gone.code) == (False, "INVALID_DATA")


async def test_bad_parent_or_list_name_raise_invalid_data(make_client: MakeClient) -> None:
    client = await make_client()
    widget, _, book = await _catalogue(client)
    with pytest.raises(InvalidData) as parent:
        await client.related_records("Products", book, "Price_Books", ["id"])
    assert parent.value.details == {"resource_path_index": 1}
    with pytest.raises(InvalidData) as name:
        await client.link_related("Products", widget, "Pricebooks", [{"id": book}])
    assert name.value.details == {"resource_path_index": 2}


async def test_related_lists_metadata_is_fetched_once(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client()
    lists = await client.related_lists("Products")
    by_name = {rl["api_name"]: rl["module"]["api_name"] for rl in lists}
    assert by_name["Price_Books"] == "Price_Books" and "Leads" in by_name
    assert await client.related_lists("Products") == lists
    assert await emu.calls("GET /crm/v8/settings/related_lists") == 1
