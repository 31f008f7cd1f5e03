"""Zoho's currency objects → ``Currency`` (reference §18)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.zoho.currencies import Currency, parse_currency
from connectors.zoho.errors import UnexpectedResponse


def test_a_currency_keeps_the_rate_exact() -> None:
    raw = {"id": "7", "iso_code": "EUR", "exchange_rate": "0.920000001", "is_base": False}
    assert parse_currency(raw) == Currency("EUR", Decimal("0.920000001"), False, True, "7")


@pytest.mark.parametrize("raw", [{"iso_code": "EUR"}, {"iso_code": "EUR", "exchange_rate": "x"}])
def test_a_currency_without_a_rate_is_unexpected(raw: dict[str, str]) -> None:
    with pytest.raises(UnexpectedResponse):
        parse_currency(raw)
