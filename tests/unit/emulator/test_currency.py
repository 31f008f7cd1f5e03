"""Multi-currency pieces without HTTP: config shape, a record's currency and rate, conversion."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from zoho_emulator.config import ConfigError, load_config
from zoho_emulator.currency import OrgCurrencies, convert, rate_text
from zoho_emulator.record_error import RecordError


def currencies(**currency: Any) -> OrgCurrencies:
    org = {"currency": currency} if currency else {}
    config = load_config({"orgs": {"a": org}}).orgs["a"].currency
    ids = itertools.count(1)
    return OrgCurrencies(config, lambda: str(next(ids)), 0)


def test_config_without_currency_is_usd_and_off() -> None:
    found = currencies()
    assert (found.home_code, found.enabled, found.codes()) == ("USD", False, ())


def test_config_with_currency_is_on_with_its_rates() -> None:
    found = currencies(home="inr", currencies=[{"iso_code": "USD", "exchange_rate": 0.012}])
    assert (found.home_code, found.enabled, found.codes()) == ("INR", True, ("INR", "USD"))
    usd = found.find("USD")
    assert usd is not None and rate_text(usd.exchange_rate) == "0.012000000"


@pytest.mark.parametrize(
    "org",
    [
        {"edition": "professional", "currency": {"home": "EUR"}},
        {"currency": {"enabled": False, "currencies": [{"iso_code": "USD", "exchange_rate": 1}]}},
        {"currency": {"currencies": [{"iso_code": "USD", "exchange_rate": 0}]}},
    ],
)
def test_config_refuses_impossible_currency_settings(org: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        load_config({"orgs": {"a": org}})


def settled(found: OrgCurrencies, changes: dict[str, Any], previous: Any = None) -> dict[str, Any]:
    values = {**(previous or {}), **changes}
    found.settle(values, changes, previous, 0)
    return values


def test_settle_defaults_and_keeps_rates() -> None:
    found = currencies(home="INR", currencies=[{"iso_code": "USD", "exchange_rate": 0.012}])
    assert settled(found, {}) == {"Currency": "INR", "Exchange_Rate": 1.0}
    assert settled(found, {"Currency": "USD"})["Exchange_Rate"] == 0.012
    assert settled(found, {"Currency": "USD", "Exchange_Rate": 0.5})["Exchange_Rate"] == 0.5
    stored = {"Currency": "USD", "Exchange_Rate": 0.011}
    assert settled(found, {"Amount": 1}, stored)["Exchange_Rate"] == 0.011  # frozen


def test_settle_refuses_unknown_and_newly_named_inactive_currencies() -> None:
    found = currencies(
        home="INR", currencies=[{"iso_code": "USD", "exchange_rate": 0.012, "is_active": False}]
    )
    for code in ("XYZ", "USD", "usd"):
        with pytest.raises(RecordError) as caught:
            settled(found, {"Currency": code})
        assert caught.value.details == {"api_name": "Currency", "json_path": "$.data[0].Currency"}
    stored = {"Currency": "USD", "Exchange_Rate": 0.012}
    assert settled(found, {"Currency": "USD"}, stored)["Exchange_Rate"] == 0.012


def test_convert_goes_through_the_home_currency() -> None:
    assert convert(1000, 1, 0.012) == 12.0
    assert convert(12, 0.012, 0.0105) == 10.5
    assert convert(10.005, 0.5, 0.5) == 10.005  # same currency: untouched
    assert convert(None, 1, 2) is None
