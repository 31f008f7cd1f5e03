"""Multi-currency (reference §18): the currencies API, enabling at runtime, and what it does to
records (Currency, Exchange_Rate, $currency_symbol, line-item prices)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator

CURRENCIES = "/crm/v8/org/currencies"
ENABLE = CURRENCIES + "/actions/enable"
MULTI = {"home": "INR", "currencies": [{"iso_code": "USD", "exchange_rate": 0.012}]}


@pytest.fixture
async def multi(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    """alpha with multi-currency on from its config (home INR, USD), and Quotes."""
    modules = {**make_config()["orgs"]["alpha"]["modules"], "Quotes": {}}
    config = make_config(alpha={"currency": MULTI, "modules": modules})
    async with Emulator(config) as emu:
        yield await login(session, emu, "alpha")


def deal(name: str, **extra: Any) -> dict[str, Any]:
    return {"Deal_Name": name, "Stage": "Qualification", **extra}


async def one(client: Client, module: str, rid: str) -> dict[str, Any]:
    status, body, _ = await client.call("GET", f"/crm/v8/{module}/{rid}")
    assert status == 200, body
    record: dict[str, Any] = body["data"][0]
    return record


async def currency_ids(client: Client) -> dict[str, str]:
    _, body, _ = await client.call("GET", CURRENCIES)
    return {c["iso_code"]: c["id"] for c in body["currencies"]}


async def test_disabled_org_has_no_currency_api_nor_field(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", CURRENCIES)
    assert (status, body["code"]) == (403, "CURRENCIES_NOT_ENABLED")
    status, body, _ = await alpha.call(
        "POST", CURRENCIES, json={"currencies": [{"iso_code": "EUR"}]}
    )
    assert (status, body["currencies"][0]["code"]) == (403, "FEATURE_NOT_ENABLED")  # v7 page
    [rid] = await alpha.insert("Deals", deal("D", Amount=5, Currency="EUR"))  # ignored: unknown
    record = await one(alpha, "Deals", rid)
    assert "Currency" not in record and "$currency_symbol" not in record
    _, body, _ = await alpha.call("GET", "/crm/v8/org")
    assert (body["org"][0]["iso_code"], body["org"][0]["mc_status"]) == ("USD", False)


async def test_enable_at_runtime_stamps_existing_records(alpha: Client) -> None:
    [old] = await alpha.insert("Deals", deal("Old", Amount=7))
    base = {"name": "Euro - EUR", "iso_code": "EUR", "exchange_rate": "1.000000000", "symbol": "€"}
    status, body, _ = await alpha.call("POST", ENABLE, json={"base_currency": base})
    assert status == 200, body
    assert body["base_currency"]["code"] == "SUCCESS" and body["base_currency"]["details"]["id"]
    record = await one(alpha, "Deals", old)
    assert (record["Currency"], record["Exchange_Rate"], record["$currency_symbol"]) == (
        "EUR",
        1.0,
        "€",
    )
    assert record["Amount"] == 7
    _, body, _ = await alpha.call("GET", "/crm/v8/settings/fields", params={"module": "Deals"})
    fields = {f["api_name"]: f for f in body["fields"]}
    assert fields["Currency"]["data_type"] == "picklist"
    assert [v["actual_value"] for v in fields["Currency"]["pick_list_values"]] == ["EUR"]
    assert fields["Exchange_Rate"]["data_type"] == "double"
    _, body, _ = await alpha.call("GET", "/crm/v8/settings/fields", params={"module": "Contacts"})
    assert "Currency" not in {f["api_name"] for f in body["fields"]}  # no amounts
    _, body, _ = await alpha.call("GET", "/crm/v8/org")
    assert (body["org"][0]["iso_code"], body["org"][0]["mc_status"]) == ("EUR", True)
    status, body, _ = await alpha.call("POST", ENABLE, json={"base_currency": base})
    assert (status, body["base_currency"]["code"]) == (400, "ALREADY_ENABLED")


async def test_enable_needs_enterprise(beta: Client) -> None:
    status, body, _ = await beta.call("POST", ENABLE, json={"base_currency": {"iso_code": "USD"}})
    assert (status, body["code"]) == (403, "FEATURE_NOT_SUPPORTED")  # v7 enable page
    status, body, _ = await beta.call("GET", CURRENCIES)
    assert (status, body["code"]) == (403, "FEATURE_NOT_SUPPORTED")  # v7 get-currencies page


async def test_list_add_update_and_errors(multi: Client) -> None:
    status, body, _ = await multi.call("GET", CURRENCIES)
    assert status == 200
    assert [(c["iso_code"], c["is_base"], c["exchange_rate"]) for c in body["currencies"]] == [
        ("INR", True, "1.000000000"),
        ("USD", False, "0.012000000"),
    ]
    items = [
        {"name": "Euro - EUR", "iso_code": "EUR", "exchange_rate": "0.0105", "symbol": "€"},
        {"name": "US Dollar - USD", "iso_code": "USD", "exchange_rate": "0.012"},
        {"name": "Pound - GBP", "iso_code": "GBP", "exchange_rate": 0.009},
        {"name": "Euro - EUR", "iso_code": "eur", "exchange_rate": "1"},
        {"name": "Yen - JPY", "iso_code": "JPY", "exchange_rate": "1.0123456789"},
    ]
    status, body, _ = await multi.call("POST", CURRENCIES, json={"currencies": items})
    assert status == 207, body
    codes = [e["code"] for e in body["currencies"]]
    assert codes == ["SUCCESS", "DUPLICATE_DATA", "INVALID_DATA", "INVALID_DATA", "INVALID_DATA"]
    assert body["currencies"][1]["details"] == {
        "api_name": "iso_code",
        "json_path": "$.currencies[1].iso_code",
    }
    assert body["currencies"][2]["details"]["expected_data_type"] == "string"
    assert body["currencies"][4]["details"]["maximum_decimal_place"] == 9
    eur = body["currencies"][0]["details"]["id"]

    change = {"exchange_rate": "0.011", "is_active": False}
    status, body, _ = await multi.call("PUT", f"{CURRENCIES}/{eur}", json={"currencies": [change]})
    assert (status, body["currencies"][0]["message"]) == (200, "The currency updated successfully.")
    _, body, _ = await multi.call("GET", f"{CURRENCIES}/{eur}")
    [shown] = body["currencies"]
    assert (shown["exchange_rate"], shown["is_active"], shown["symbol"]) == (
        "0.011000000",
        False,
        "€",
    )
    status, body, _ = await multi.call("GET", f"{CURRENCIES}/999")
    assert status == 204

    base = (await currency_ids(multi))["INR"]
    updates = [{"id": base, "is_active": False}, {"id": "123"}, {"id": eur, "iso_code": "GBP"}]
    status, body, _ = await multi.call("PUT", CURRENCIES, json={"currencies": updates})
    assert status == 400
    assert [e["code"] for e in body["currencies"]] == [
        "NOT_ALLOWED",
        "INVALID_DATA",
        "INVALID_DATA",
    ]


async def test_active_currency_limit(session: aiohttp.ClientSession) -> None:
    config = make_config(alpha={"currency": MULTI}, behaviour={"active_currencies_limit": 2})
    async with Emulator(config) as emu:
        client = await login(session, emu, "alpha")
        item = {"name": "Euro - EUR", "iso_code": "EUR", "exchange_rate": "0.011"}
        status, body, _ = await client.call("POST", CURRENCIES, json={"currencies": [item]})
        assert status == 400
        assert body["currencies"][0]["code"] == "ACTIVE_STATE_LIMIT_EXCEEDED"
        assert body["currencies"][0]["details"] == {"limit": 2}
        inactive = {**item, "is_active": False}
        status, body, _ = await client.call("POST", CURRENCIES, json={"currencies": [inactive]})
        assert status == 200, body


async def test_records_carry_their_currency_and_rate(multi: Client) -> None:
    home, usd, own_rate = await multi.insert(
        "Deals",
        deal("Home", Amount=100),
        deal("Usd", Amount=100, Currency="USD"),
        deal("Own", Amount=100, Currency="USD", Exchange_Rate=0.013),
    )
    shown = [await one(multi, "Deals", r) for r in (home, usd, own_rate)]
    assert [(r["Currency"], r["Exchange_Rate"], r["$currency_symbol"]) for r in shown] == [
        ("INR", 1.0, "₹"),
        ("USD", 0.012, "$"),
        ("USD", 0.013, "$"),
    ]
    assert [r["Amount"] for r in shown] == [100, 100, 100]  # stored in the record's currency

    # a later rate does not move a record's frozen rate
    usd_id = (await currency_ids(multi))["USD"]
    await multi.call(
        "PUT", CURRENCIES, json={"currencies": [{"id": usd_id, "exchange_rate": "0.02"}]}
    )
    assert (await one(multi, "Deals", usd))["Exchange_Rate"] == 0.012
    status, body, _ = await multi.call(
        "PUT", f"/crm/v8/Deals/{home}", json={"data": [{"Currency": "USD"}]}
    )
    assert status == 200, body
    assert (await one(multi, "Deals", home))["Exchange_Rate"] == 0.02


async def test_unknown_or_inactive_currency_is_refused_per_record(multi: Client) -> None:
    [usd_deal] = await multi.insert("Deals", deal("Kept", Currency="USD"))
    usd_id = (await currency_ids(multi))["USD"]
    await multi.call("PUT", f"{CURRENCIES}/{usd_id}", json={"currencies": [{"is_active": False}]})
    body = {"data": [deal("A", Currency="USD"), deal("B", Currency="XYZ"), deal("C")]}
    status, answer, _ = await multi.call("POST", "/crm/v8/Deals", json=body)
    assert status == 207
    assert [e["code"] for e in answer["data"]] == ["INVALID_DATA", "INVALID_DATA", "SUCCESS"]
    assert answer["data"][1]["details"] == {
        "api_name": "Currency",
        "json_path": "$.data[1].Currency",
    }
    # a record keeps a currency retired after it was written
    change = {"data": [{"id": usd_deal, "Currency": "USD", "Amount": 3}]}
    status, answer, _ = await multi.call("PUT", "/crm/v8/Deals", json=change)
    assert status == 200, answer


async def test_line_item_prices_default_in_the_records_currency(multi: Client) -> None:
    [product] = await multi.insert("Products", {"Product_Name": "P", "Unit_Price": 1000})
    items = [{"Product_Name": {"id": product}, "Quantity": 2}]
    [quote] = await multi.insert(
        "Quotes", {"Subject": "Q", "Currency": "USD", "Quoted_Items": items}
    )
    [row] = (await one(multi, "Quotes", quote))["Quoted_Items"]
    assert (row["List_Price"], row["Total"]) == (12.0, 24.0)  # 1000 INR at 0.012


async def test_name_is_mandatory_and_the_base_is_not_updated_here(multi: Client) -> None:
    item = {"iso_code": "EUR", "exchange_rate": "0.011"}
    status, body, _ = await multi.call("POST", CURRENCIES, json={"currencies": [item]})
    assert (status, body["currencies"][0]["code"]) == (400, "MANDATORY_NOT_FOUND")
    assert body["currencies"][0]["details"]["api_name"] == "name"
    base = (await currency_ids(multi))["INR"]
    status, body, _ = await multi.call("PUT", CURRENCIES, json={"currencies": [{"id": base}]})
    entry = body["currencies"][0]
    assert (status, entry["code"], entry["message"]) == (
        400,
        "NOT_ALLOWED",
        "Base currency ID is not allowed here",
    )
    status, body, _ = await multi.call("PUT", f"{CURRENCIES}/{base}", json={"currencies": [{}]})
    assert (status, body["currencies"][0]["code"]) == (400, "NOT_ALLOWED")


async def test_enable_needs_a_name(alpha: Client) -> None:
    base = {"iso_code": "EUR", "exchange_rate": "1.000000000"}
    status, body, _ = await alpha.call("POST", ENABLE, json={"base_currency": base})
    assert (status, body["base_currency"]["code"]) == (400, "MANDATORY_NOT_FOUND")
    assert body["base_currency"]["details"]["api_name"] == "name"
