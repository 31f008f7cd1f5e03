"""Currencies across orgs (pipeline/mapping/money.py): carry, convert, reject."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pipeline.mapping.money import (
    NO_RATE,
    NOT_IN_TARGET,
    UNKNOWN,
    Amounts,
    CurrencyRule,
    MoneyProblem,
    MoneyUnknown,
    OrgMoney,
    Rates,
    currency_outcome,
    currency_problem,
    exchange_rates,
    settle_currency,
)

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
    source: OrgMoney | MoneyUnknown,
    target: OrgMoney | MoneyUnknown,
    policy: str = "reject",
    rates: Rates | None = None,
) -> MoneyProblem | None:
    return settle_currency(record, data, CurrencyRule(source, target, policy, AMOUNTS, rates or {}))


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
    problem = settle({"Currency": "INR"}, data, source, target, "convert")
    if expected is None:
        assert problem is not None and problem.code == NO_RATE
        assert 'exchange_rates: {"INR/USD": RATE}' in problem.message
        return
    assert problem is None
    assert data["Amount"] == expected
    assert data["Quoted_Items"] == [{"List_Price": expected / 100, "Quantity": 2}]


def test_reject_names_both_currencies_and_records_without_amounts_pass() -> None:
    problem = settle({"Currency": "INR"}, {"Amount": 1.0}, INR_HOME, EUR_ONLY)
    assert problem is not None and problem.code == NOT_IN_TARGET
    assert "INR" in problem.message and "EUR" in problem.message
    assert "currency: convert" in problem.message
    assert (
        settle({"Currency": "INR"}, {"Amount": None, "Deal_Name": "x"}, INR_HOME, EUR_ONLY) is None
    )


def test_configured_rates_derive_the_reverse_pair_unless_it_is_given() -> None:
    assert exchange_rates({"INR/USD": 0.0125}) == {
        ("INR", "USD"): Decimal("0.0125"),
        ("USD", "INR"): Decimal(80),
    }
    both = exchange_rates({"INR/USD": 0.012, "USD/INR": 84})
    assert both[("USD", "INR")] == Decimal(84)


@pytest.mark.parametrize(
    ("record", "configured", "expected"),
    [
        ({}, {"INR/USD": 0.012}, 1200.0),  # the pair itself
        ({}, {"USD/INR": 80}, 1250.0),  # the derived reverse
        ({"Currency": "EUR", "Exchange_Rate": 0.011}, {"INR/USD": 0.012}, 109090.91),  # via INR
    ],
)
def test_two_single_currency_orgs_convert_with_the_configured_rate(
    record: dict[str, Any], configured: dict[str, float], expected: float
) -> None:
    source = INR_HOME if record else OrgMoney.single("INR")
    data = {"Amount": 100000.0}
    rates = exchange_rates(configured)
    assert settle(record, data, source, USD_ONLY, "convert", rates) is None
    assert data == {"Amount": expected}


def test_an_org_rate_wins_over_a_configured_one() -> None:
    data = {"Amount": 100000.0}
    rates = exchange_rates({"INR/USD": 0.5})
    assert settle({"Currency": "INR"}, data, INR_HOME, USD_ONLY, "convert", rates) is None
    assert data == {"Amount": 1200.0}  # the source's own USD rate


@pytest.mark.parametrize("side", ["source", "target"])
def test_unknown_currencies_fail_closed_for_records_with_amounts_only(side: str) -> None:
    unknown = MoneyUnknown("global_us", "GET /org was refused: the token lacks ZohoCRM.org.READ")
    source, target = (unknown, USD_ONLY) if side == "source" else (INR_HOME, unknown)
    data = {"Amount": 8300000.0, "Currency": "INR"}
    problem = settle({"Currency": "INR"}, data, source, target, "convert")
    assert problem is not None and problem.code == UNKNOWN
    assert "org global_us" in problem.message and "ZohoCRM.org.READ" in problem.message
    without = {"Amount": None, "Deal_Name": "x"}
    assert settle({}, without, source, target, "convert") is None
    assert without == {"Amount": None, "Deal_Name": "x"}


def test_currency_problem_tells_without_touching_the_record() -> None:
    data = {"Amount": 100.0, "Quoted_Items": [{"List_Price": 1.0}]}
    rule = CurrencyRule(INR_HOME, USD_ONLY, "convert", AMOUNTS)
    assert currency_problem({"Currency": "INR"}, data, rule) is None
    assert data == {"Amount": 100.0, "Quoted_Items": [{"List_Price": 1.0}]}
    rejecting = CurrencyRule(INR_HOME, EUR_ONLY, "reject", AMOUNTS)
    problem = currency_problem({"Currency": "INR"}, data, rejecting)
    assert problem is not None and problem.code == NOT_IN_TARGET


def test_the_outcome_of_every_currency_a_source_record_can_be_in() -> None:
    assert INR_HOME.occurring == ["INR", "USD"]
    outcomes = {
        c: currency_outcome(c, INR_HOME, EUR_ONLY, "convert", exchange_rates({"INR/EUR": 0.011}))
        for c in INR_HOME.occurring
    }
    assert outcomes == {"INR": "converted", "USD": "converted"}  # USD through INR
    single = OrgMoney.single("INR")
    assert currency_outcome("INR", single, USD_ONLY, "convert", {}) == "rejected"
    assert currency_outcome("INR", single, USD_ONLY, "reject", {}) == "rejected"
    assert currency_outcome("USD", INR_HOME, USD_ONLY, "reject", {}) == "carried"
