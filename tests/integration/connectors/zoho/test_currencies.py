"""The org's currencies through the client, against the emulator (reference §18)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.zoho_client import Emu, MakeClient

MULTI = {
    "edition": "enterprise",
    "currency": {
        "home": "INR",
        "currencies": [
            {"iso_code": "USD", "exchange_rate": 0.012},
            {"iso_code": "EUR", "exchange_rate": "0.011", "is_active": False},
        ],
    },
}


@pytest.mark.parametrize("emulator_overrides", [MULTI])
async def test_a_multi_currency_org_lists_its_currencies(emu: Emu, make_client: MakeClient) -> None:
    found = await (await make_client()).currencies()
    assert [(c.iso_code, c.exchange_rate, c.is_base, c.is_active) for c in found] == [
        ("INR", Decimal("1.000000000"), True, True),
        ("USD", Decimal("0.012000000"), False, True),
        ("EUR", Decimal("0.011000000"), False, False),
    ]
    assert [c.symbol for c in found] == ["₹", "$", "€"] and all(c.id for c in found)
    assert await emu.calls("GET /crm/v8/org/currencies") == 1


async def test_an_org_without_multi_currency_has_none(emu: Emu, make_client: MakeClient) -> None:
    assert await (await make_client()).currencies() == []
    assert await emu.calls("GET /crm/v8/org/currencies") == 1  # answered 403, not retried
