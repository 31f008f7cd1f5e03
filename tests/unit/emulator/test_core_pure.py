"""Pure parts of the emulator core: credit ledger, criteria parser, config loading."""

from __future__ import annotations

import pytest

from zoho_emulator import ConfigError, load_config
from zoho_emulator.criteria import CriteriaError, parse
from zoho_emulator.limits import CreditLedger, daily_allowance, write_cost
from zoho_emulator.schema import build_modules


def test_credit_ledger_rolls_over_24_hours() -> None:
    ledger = CreditLedger(3)
    assert ledger.try_spend(0, 2) and ledger.try_spend(1000, 1)
    assert not ledger.try_spend(2000, 1)
    assert ledger.try_spend(86_400_001, 2)  # the first call's 2 credits were released
    assert ledger.remaining(86_400_001) == 0


@pytest.mark.parametrize(
    ("edition", "licences", "expected"),
    [
        ("free", 10, 5_000),
        ("standard", 4, 51_000),
        ("enterprise", 10, 60_000),
        ("standard", 1000, 100_000),
        ("professional", 10_000, 3_000_000),
    ],
)
def test_daily_allowance(edition: str, licences: int, expected: int) -> None:
    assert daily_allowance(edition, licences) == expected


@pytest.mark.parametrize(("records", "cost"), [(1, 1), (10, 1), (11, 2), (100, 10)])
def test_write_cost(records: int, cost: int) -> None:
    assert write_cost(records) == cost


def _leads():  # type: ignore[no-untyped-def]
    counter = iter(range(10**6))
    return build_modules({}, lambda: str(1_000_000_000_000_000_000 + next(counter)))["Leads"]


def test_criteria_parse_nested_and_escapes() -> None:
    node = parse(
        r"((Last_Name:equals:Burns\,B)and((Company:starts_with:Zy)or(Email:in:a,b)))", _leads()
    )
    op, children = node  # type: ignore[misc]
    assert op == "and" and children[0].values == ("Burns,B",)
    assert children[1][0] == "or"


@pytest.mark.parametrize(
    "text",
    [
        "(Last_Name:equals",
        "Last_Name:equals:x",
        "(Nope:equals:x)",
        "((A:equals:x)and(B:equals:y)or(C:equals:z))",
        "(" + ")and(".join(["Last_Name:equals:x"] * 11) + ")",
    ],
)
def test_criteria_rejects(text: str) -> None:
    with pytest.raises(CriteriaError):
        parse(f"({text})" if text.count("and") >= 10 else text, _leads())


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        load_config({"orgs": {}})
    with pytest.raises(ConfigError):
        load_config({"orgs": {"a": {"dc": "mars"}}})
    with pytest.raises(ConfigError):
        load_config({"orgs": {"a": {}}, "behaviour": {"nope": 1}})
    config = load_config(
        {"orgs": {"a": {"clients": [{"client_id": "1000.X", "client_secret": "s3cret"}]}}}
    )
    assert "s3cret" not in repr(config)
