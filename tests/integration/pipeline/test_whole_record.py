"""The whole record (issue 17): a Quote's line items over Products, an activity's What_Id."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import ORIGIN, ORIGIN_FIELD, org_config, records, target_modules
from orgsync_kernel.events import RELATED_SOURCE
from orgsync_kernel.topics import Topics
from tests.support.pipeline import calls, client, notifier, send_hints, wait_until
from zoho_emulator import Emulator

SYNCED = ("Products", "Quotes", "Deals", "Tasks")
BY_SOURCE_ID = {"match_field": ORIGIN}
ROUTE: dict[str, Any] = {
    "source": "src",
    "target": "tgt",
    "modules": {module: BY_SOURCE_ID for module in SYNCED},
}


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    def modules() -> dict[str, Any]:
        linked = {"api_name": "Accounts_Linked", "data_type": "multiselectlookup"}
        return {
            **target_modules(Contacts={**linked, "lookup_module": "Accounts"}),
            **{m: {"fields": [ORIGIN_FIELD]} for m in (*SYNCED, "Price_Books")},
        }

    return {"src": org_config("src", "in", modules()), "tgt": org_config("tgt", "us", modules())}


def by_origin(emu: Emulator, module: str) -> dict[str, dict[str, Any]]:
    return {str(r[ORIGIN]): r for r in records(emu, "tgt", module) if r.get(ORIGIN)}


def rows_by_product(quote: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["Product_Name"]["id"]: row for row in quote.get("Quoted_Items") or ()}


async def test_a_quote_arrives_with_its_line_items_and_an_edited_row_stays_that_row(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker([ROUTE])
    worker.start()
    src = await client(emu, "src", session)
    hints = Topics(unique_name).hints
    products = [
        str(o.id)
        for o in await src.insert(
            "Products", [{"Product_Name": f"Widget {n}", "Unit_Price": 10.0 * n} for n in (1, 2, 3)]
        )
    ]
    items = [
        {"Product_Name": {"id": p}, "Quantity": n + 1, "List_Price": 100.0, "Discount": 5.0 * n}
        for n, p in enumerate(products)
    ]
    quote = str((await src.insert("Quotes", [{"Subject": "Q-1", "Quoted_Items": items}]))[0].id)
    # Only the Quote is hinted: its Products are fetched and linked first.
    await send_hints(kafka_producer, hints, "src", "Quotes", [quote], "insert")

    async def arrived() -> bool:
        return len(rows_by_product(by_origin(emu, "Quotes").get(quote, {}))) == 3

    await wait_until(arrived, 60, "the quote with 3 line items", worker)
    target_products = {source: str(r["id"]) for source, r in by_origin(emu, "Products").items()}
    assert set(target_products) == set(products)
    target_quote = by_origin(emu, "Quotes")[quote]
    rows = rows_by_product(target_quote)
    assert set(rows) == set(target_products.values())
    for n, product in enumerate(products):
        row = rows[target_products[product]]
        assert (row["Quantity"], row["List_Price"]) == (n + 1, 100.0)
        assert row["Total"] == 100.0 * (n + 1)
        assert row["Net_Total"] == 100.0 * (n + 1) - 5.0 * n
    assert target_quote["Grand_Total"] == sum(100.0 * (n + 1) - 5.0 * n for n in range(3))

    source_rows = (await src.get_record("Quotes", quote) or {})["Quoted_Items"]
    first, second = source_rows[0]["id"], source_rows[1]["id"]
    row_ids = {p: r["id"] for p, r in rows.items()}
    edit = [{"id": first, "Quantity": 7}, {"id": second, "_delete": None}]
    await src.update("Quotes", [{"id": quote, "Quoted_Items": edit}])
    await send_hints(kafka_producer, hints, "src", "Quotes", [quote])

    async def edited() -> bool:
        rows = rows_by_product(by_origin(emu, "Quotes")[quote])
        return len(rows) == 2 and rows.get(target_products[products[0]], {}).get("Quantity") == 7

    await wait_until(edited, 30, "the edited and the removed row in the target", worker)
    after = rows_by_product(by_origin(emu, "Quotes")[quote])
    assert {p: r["id"] for p, r in after.items()} == {
        target_products[products[0]]: row_ids[target_products[products[0]]],
        target_products[products[2]]: row_ids[target_products[products[2]]],
    }  # the same rows, edited in place; the removed one is gone
    assert len(by_origin(emu, "Quotes")) == 1


async def test_a_task_follows_the_deal_it_is_related_to(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker([ROUTE])
    worker.start()
    src = await client(emu, "src", session)
    deal = str((await src.insert("Deals", [{"Deal_Name": "Big", "Stage": "Qualification"}]))[0].id)
    task = {"Subject": "Call back", "What_Id": {"id": deal}, "$se_module": "Deals"}
    task_id = str((await src.insert("Tasks", [task]))[0].id)
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Tasks", [task_id], "insert")

    async def arrived() -> bool:
        return task_id in by_origin(emu, "Tasks")

    await wait_until(arrived, 60, "the task in the target", worker)
    target_deal = by_origin(emu, "Deals")[deal]
    target_task = by_origin(emu, "Tasks")[task_id]
    assert target_task["What_Id"]["id"] == str(target_deal["id"])
    assert target_task["$se_module"] == "Deals"


async def test_two_way_line_items_written_by_orgsync_are_not_written_back(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    modules = {m: BY_SOURCE_ID for m in ("Products", "Quotes")}
    back = {"source": "tgt", "target": "src", "modules": modules}
    worker = make_worker([{**ROUTE, "modules": modules}, back])
    worker.start()
    src = await client(emu, "src", session)
    async with notifier(emu, kafka_producer, Topics(unique_name).hints, ("Products", "Quotes")):
        [product] = [str(o.id) for o in await src.insert("Products", [{"Product_Name": "Gear"}])]
        items = [{"Product_Name": {"id": product}, "Quantity": 2, "List_Price": 50.0}]
        [made] = await src.insert("Quotes", [{"Subject": "Both ways", "Quoted_Items": items}])
        quote = str(made.id)

        async def arrived() -> bool:
            return len(rows_by_product(by_origin(emu, "Quotes").get(quote, {}))) == 1

        await wait_until(arrived, 60, "the quote in the target", worker)
        # A marker: once it arrived, the echoes of the quote's write were processed before it.
        await src.insert("Products", [{"Product_Name": "Marker"}])

        async def marker() -> bool:
            return "Marker" in {r["Product_Name"] for r in records(emu, "tgt", "Products")}

        await wait_until(marker, 60, "the marker product", worker)
        # Nothing marks "no echo was written": a quiet period of the worker's write log does.
        writes = len(emu.state.orgs["src"].write_log)
        quiet_since = time.monotonic()

        async def quiet() -> bool:
            nonlocal writes, quiet_since
            now = len(emu.state.orgs["src"].write_log)
            if now != writes:
                writes, quiet_since = now, time.monotonic()
            return time.monotonic() - quiet_since >= 3.0

        await wait_until(quiet, 20, "a quiet period in the source", worker)
    assert calls(emu, "src", "POST /crm/v8/Quotes/upsert") == 0, "the echo was written back"
    [source_quote] = [r for r in records(emu, "src", "Quotes") if str(r["id"]) == quote]
    assert len(source_quote["Quoted_Items"]) == 1


async def test_a_multi_select_lookup_links_the_target_accounts_and_follows_a_removed_row(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    modules = {m: BY_SOURCE_ID for m in ("Accounts", "Contacts")}
    worker = make_worker([{**ROUTE, "modules": modules}])
    worker.start()
    src = await client(emu, "src", session)
    hints = Topics(unique_name).hints
    accounts = [
        str(o.id) for o in await src.insert("Accounts", [{"Account_Name": f"A{n}"} for n in (1, 2)])
    ]
    rows = [{"Accounts": {"id": a}} for a in accounts]
    contact = {"Last_Name": "Linked", "Accounts_Linked": rows}
    [made] = await src.insert("Contacts", [contact])
    await send_hints(kafka_producer, hints, "src", "Contacts", [str(made.id)], "insert")

    def linked() -> set[str]:
        found = by_origin(emu, "Contacts").get(str(made.id), {})
        return {row["Accounts"]["id"] for row in found.get("Accounts_Linked") or ()}

    async def arrived() -> bool:
        return len(linked()) == 2

    await wait_until(arrived, 60, "the contact with two linked accounts", worker)
    target_accounts = {s: str(r["id"]) for s, r in by_origin(emu, "Accounts").items()}
    assert linked() == set(target_accounts.values())

    [row, _] = (await src.get_record("Contacts", str(made.id)) or {})["Accounts_Linked"]
    removal = [{"id": row["id"], "_delete": None}]
    await src.update("Contacts", [{"id": str(made.id), "Accounts_Linked": removal}])
    await send_hints(kafka_producer, hints, "src", "Contacts", [str(made.id)])
    kept = target_accounts[accounts[1] if row["Accounts"]["id"] == accounts[0] else accounts[0]]

    async def removed() -> bool:
        return linked() == {kept}

    await wait_until(removed, 30, "the removed link gone from the target", worker)


async def test_a_price_book_links_the_target_products_with_their_list_prices(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    books = {**BY_SOURCE_ID, "related_lists": ["Products"], "delete": True}
    modules = {"Products": BY_SOURCE_ID, "Price_Books": books}
    worker = make_worker([{**ROUTE, "modules": modules}])
    worker.start()
    src = await client(emu, "src", session)
    hints = Topics(unique_name).hints
    products = [
        str(o.id) for o in await src.insert("Products", [{"Product_Name": f"P{n}"} for n in (1, 2)])
    ]
    [book] = [str(o.id) for o in await src.insert("Price_Books", [{"Price_Book_Name": "EU"}])]
    prices = [{"id": p, "list_price": 10.0 * (n + 1)} for n, p in enumerate(products)]
    await src.link_related("Price_Books", book, "Products", prices)
    # Only the price book is hinted: its products are synced first.
    await send_hints(kafka_producer, hints, "src", "Price_Books", [book], "insert")
    tgt = await client(emu, "tgt", session)

    async def listed() -> dict[str, float]:
        target = by_origin(emu, "Price_Books").get(book)
        if target is None:
            return {}
        rows = await tgt.related_records(
            "Price_Books", str(target["id"]), "Products", ["Modified_Time"]
        )
        return {str(r["id"]): r["list_price"] for r in rows}

    async def linked() -> bool:
        return len(await listed()) == 2

    await wait_until(linked, 60, "the price book's two products in the target", worker)
    target_products = {s: str(r["id"]) for s, r in by_origin(emu, "Products").items()}
    assert await listed() == {
        target_products[products[0]]: 10.0,
        target_products[products[1]]: 20.0,
    }

    await src.delink_related("Price_Books", book, "Products", [products[0]])
    # A relation changes nothing of the price book: Zoho reports it as a related action.
    await send_hints(kafka_producer, hints, "src", "Price_Books", [book], source=RELATED_SOURCE)

    async def delinked() -> bool:
        return await listed() == {target_products[products[1]]: 20.0}

    await wait_until(delinked, 30, "the removed relation gone from the target", worker)
