"""Subform rows and polymorphic lookups through the transform, and the sink's row map (pure)."""

from __future__ import annotations

from typing import Any

from orgsync_kernel.settings import Route
from pipeline.mapping import subform_rows as row_links
from pipeline.mapping.content import content_hash
from pipeline.mapping.lookups import ROW_ID
from pipeline.mapping.transforms import (
    MissingParent,
    ParentRef,
    TargetRecord,
    TransformContext,
    UserDirectory,
    field_index,
    transform,
)

ROUTE = Route.model_validate(
    {
        "source": "in",
        "target": "us",
        "modules": {
            m: {"match_field": "Origin_Record_Id"} for m in ("Products", "Quotes", "Deals", "Tasks")
        },
    }
)
ROWS = [
    {
        "api_name": "Product_Name",
        "data_type": "lookup",
        "lookup": {"module": {"api_name": "Products"}},
    },
    {"api_name": "Quantity", "data_type": "double"},
    {"api_name": "List_Price", "data_type": "currency"},
    {"api_name": "Line_Tax", "data_type": "linetax"},
    {"api_name": "Total", "data_type": "currency", "read_only": True},
]
QUOTE_FIELDS = [
    {"api_name": "Subject", "data_type": "text"},
    {"api_name": "Origin_Record_Id", "data_type": "text"},
    {
        "api_name": "Quoted_Items",
        "data_type": "subform",
        "associated_module": {"module": "Quoted_Items"},
    },
    {"api_name": "Grand_Total", "data_type": "currency", "read_only": True},
]
WHAT_ID = {"module": [{"api_name": m} for m in ("Deals", "Accounts", "Leads")]}
TASK_FIELDS = [
    {"api_name": "Subject", "data_type": "text"},
    {"api_name": "Origin_Record_Id", "data_type": "text"},
    {"api_name": "What_Id", "data_type": "lookup", "lookup": WHAT_ID},
]
NOTE_FIELDS = [
    {"api_name": "Note_Title", "data_type": "text"},
    {"api_name": "Origin_Record_Id", "data_type": "text"},
    {"api_name": "Parent_Id", "data_type": "lookup", "lookup": {"module": [{"api_name": "*"}]}},
]
IDS = {("Products", "p1"): "P1", ("Products", "p2"): "P2", ("Deals", "d1"): "D1"}


def context(module: str, fields: list[dict[str, Any]]) -> TransformContext:
    index = field_index(fields)
    rows = {m.api_name: field_index(ROWS) for m in index.subforms}
    users = UserDirectory()
    return TransformContext.for_route(ROUTE, module, index, users, users, IDS, rows)


def quote(*items: dict[str, Any]) -> dict[str, Any]:
    return {"id": "q1", "Subject": "Q", "Grand_Total": 5.0, "Quoted_Items": list(items)}


def item(row_id: str, product: str, quantity: float, **extra: Any) -> dict[str, Any]:
    shown = {"id": product, "name": "Widget", "Product_Code": "W"}
    return {"id": row_id, "Product_Name": shown, "Quantity": quantity, "Total": 1.0, **extra}


def test_line_items_carry_translated_products_and_their_source_row_ids() -> None:
    tax = [{"name": "VAT", "percentage": 5.0, "value": 0.5}]
    record = quote(item("r1", "p1", 2, Line_Tax=tax), item("r2", "p2", 1, List_Price=3.0))
    result = transform(record, ROUTE.modules["Quotes"], context("Quotes", QUOTE_FIELDS))
    assert isinstance(result, TargetRecord)
    assert result.data["Quoted_Items"] == [
        {
            "Product_Name": {"id": "P1"},
            "Quantity": 2,
            "Line_Tax": [{"name": "VAT", "percentage": 5.0}],
            ROW_ID: "r1",
        },
        {"Product_Name": {"id": "P2"}, "Quantity": 1, "List_Price": 3.0, ROW_ID: "r2"},
    ]
    assert "Grand_Total" not in result.data


def test_a_line_item_whose_product_is_not_linked_holds_the_quote() -> None:
    record = quote(item("r1", "p1", 2), item("r2", "p9", 1))
    result = transform(record, ROUTE.modules["Quotes"], context("Quotes", QUOTE_FIELDS))
    assert result == MissingParent((ParentRef("Products", "p9", "Quoted_Items[1].Product_Name"),))


def test_what_id_is_translated_with_its_module_and_an_unsynced_module_is_left_out() -> None:
    task = {
        "id": "t1",
        "Subject": "Call",
        "What_Id": {"id": "d1", "name": "Big"},
        "$se_module": "Deals",
    }
    result = transform(task, ROUTE.modules["Tasks"], context("Tasks", TASK_FIELDS))
    assert isinstance(result, TargetRecord)
    assert (result.data["What_Id"], result.data["$se_module"]) == ({"id": "D1"}, "Deals")
    unsynced = {**task, "What_Id": {"id": "a1"}, "$se_module": "Accounts"}
    result = transform(unsynced, ROUTE.modules["Tasks"], context("Tasks", TASK_FIELDS))
    assert isinstance(result, TargetRecord) and "What_Id" not in result.data
    assert "$se_module" not in result.data


def test_a_note_parent_keeps_the_v8_shape_and_waits_for_its_parent() -> None:
    fields = NOTE_FIELDS
    note = {
        "id": "n1",
        "Note_Title": "t",
        "Parent_Id": {"module": {"api_name": "Deals"}, "id": "d1"},
    }
    result = transform(note, ROUTE.modules["Quotes"], context("Notes", fields))
    assert isinstance(result, TargetRecord)
    assert result.data["Parent_Id"] == {"module": {"api_name": "Deals"}, "id": "D1"}
    orphan = {**note, "Parent_Id": {"module": {"api_name": "Deals"}, "id": "d2"}}
    result = transform(orphan, ROUTE.modules["Quotes"], context("Notes", fields))
    assert result == MissingParent((ParentRef("Deals", "d2", "Parent_Id"),))


def test_rows_hash_by_content_not_by_their_ids_or_computed_totals() -> None:
    written = [{"Product_Name": {"id": "P1"}, "Quantity": 2, ROW_ID: "r1", "Description": None}]
    echoed = [
        {"id": "T1", "Product_Name": {"id": "P1", "name": "W"}, "Quantity": 2.0, "Total": 9.0}
    ]
    assert content_hash({"v": written}) == content_hash({"v": echoed})
    assert content_hash({"v": written}) != content_hash({"v": [{**echoed[0], "Quantity": 3}]})


MAPPED = {
    "Subject": "Q",
    "Quoted_Items": [
        {"Product_Name": {"id": "P1"}, "Quantity": 7, ROW_ID: "r1"},
        {"Product_Name": {"id": "P2"}, "Quantity": 1, ROW_ID: "r3"},
    ],
}


def test_outgoing_rows_use_target_row_ids_and_remove_rows_gone_from_the_source() -> None:
    known = {"Quoted_Items": {"r1": "T1", "r2": "T2"}}
    sent = row_links.outgoing(MAPPED, known)
    assert sent["Quoted_Items"] == [
        {"id": "T1", "Product_Name": {"id": "P1"}, "Quantity": 7},
        {"Product_Name": {"id": "P2"}, "Quantity": 1},
        {"id": "T2", "_delete": None},
    ]
    assert MAPPED["Quoted_Items"][0][ROW_ID] == "r1"  # the write itself is left as it was


def test_settle_pairs_new_rows_by_content_and_finds_stray_copies() -> None:
    target = {
        "Quoted_Items": [
            {"id": "T1", "Product_Name": {"id": "P1", "name": "W"}, "Quantity": 7.0},
            {"id": "T8", "Product_Name": {"id": "P2"}, "Quantity": 1.0},  # a crashed write's copy
            {"id": "T5", "Product_Name": {"id": "P5"}, "Quantity": 4.0},  # added in the target
            {"id": "T9", "Product_Name": {"id": "P2"}, "Quantity": 1.0, "Total": 1.0},
        ]
    }
    settled = row_links.settle(MAPPED, {"Quoted_Items": {"r1": "T1", "r2": "T2"}}, target)
    assert settled.rows == {"Quoted_Items": {"r1": "T1", "r3": "T9"}}
    assert settled.strays == {"Quoted_Items": ["T8"]}
    assert row_links.removal("Q1", settled.strays) == {
        "id": "Q1",
        "Quoted_Items": [{"id": "T8", "_delete": None}],
    }
    assert row_links.reverse(settled.rows) == {"Quoted_Items": {"T1": "r1", "T9": "r3"}}
    assert row_links.load(row_links.dump(settled.rows)) == settled.rows
