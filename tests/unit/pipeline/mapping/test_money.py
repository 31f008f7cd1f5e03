"""Currencies across orgs (pipeline/mapping/money.py): carry, convert, reject."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pipeline.mapping.money import Amounts, CurrencyRule, OrgMoney, settle_currency

INR_HOME = OrgMoney(
    "INR", {"INR": Decimal(1), "USD": Decimal("0.012")}, frozenset({"INR", "USD"}), True
)
USD_WITH_INR = OrgMoney(
    "USD", {"USD": Decimal(1), "INR": Decimal(80)}, frozenset({"USD", "INR"}), True
)
USD_ONLY = OrgMoney.single("USD")
EUR_ONLY = OrgMoney.single("EUR")
AMOUNTS = Amounts(frozenset({"Amount"}), {"Quoted_Items": frozenset({"List_Price"})})


def settle(
    record: dict[str, Any],
    data: dict[str, Any],
    source: OrgMoney,
    target: OrgMoney,
    policy: str = "reject",
) -> str | None:
    return settle_currency(record, data, CurrencyRule(source, target, policy, AMOUNTS))


def test_a_currency_the_target_has_is_carried_without_the_source_rate() -> None:
    data = {"Amount": 100.0, "Currency": "INR", "Exchange_Rate": 1.0}
    assert settle({"Currency": "INR"}, data, INR_HOME, USD_WITH_INR) is None
    assert data == {"Amount": 100.0, "Currency": "INR"}


def test_a_target_without_multi_currency_takes_its_home_currency_without_the_field() -> None:
    data = {"Amount": 5.0}
    assert settle({"Currency": "USD"}, data, INR_HOME, USD_ONLY) is None
    assert data == {"Amount": 5.0}


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (
            INR_HOME,
            OrgMoney("USD", {"USD": Decimal(1), "INR": Decimal(80)}, frozenset({"USD"}), True),
            1250.0,
        ),  # the target's (inactive) INR rate
        (INR_HOME, USD_ONLY, 1200.0),  # the source's USD rate
        (
            OrgMoney.single("INR"),
            OrgMoney(
                "USD", {"USD": Decimal(1), "EUR": Decimal("0.9")}, frozenset({"USD", "EUR"}), True
            ),
            None,
        ),
    ],
)
def test_convert_uses_the_best_rate_it_finds_or_rejects(
    source: OrgMoney, target: OrgMoney, expected: float | None
) -> None:
    data = {"Amount": 100000.0, "Quoted_Items": [{"List_Price": 1000.0, "Quantity": 2}]}
    reason = settle({"Currency": "INR"}, data, source, target, "convert")
    if expected is None:
        assert reason == "no exchange rate from INR to USD in either org"
        return
    assert reason is None
    assert data["Amount"] == expected
    assert data["Quoted_Items"] == [{"List_Price": expected / 100, "Quantity": 2}]


def test_reject_names_both_currencies_and_records_without_amounts_pass() -> None:
    reason = settle({"Currency": "INR"}, {"Amount": 1.0}, INR_HOME, EUR_ONLY)
    assert (
        reason is not None and "INR" in reason and "EUR" in reason and "currency: convert" in reason
    )
    assert (
        settle({"Currency": "INR"}, {"Amount": None, "Deal_Name": "x"}, INR_HOME, EUR_ONLY) is None
    )
