"""An org's money as the metadata cache reads it (pipeline/sync/metadata.py): fail closed."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest

from connectors.zoho import Currency, OrgCurrency, ZohoError
from connectors.zoho.errors import NoPermission, OAuthScopeMismatch, ServerError
from pipeline.mapping.money import MoneyUnknown, OrgMoney
from pipeline.sync.metadata import Metadata, read_money


class Org:
    """A client whose `GET /org` and `GET /org/currencies` answer or fail as told."""

    def __init__(self, org: OrgCurrency | ZohoError, currencies: list[Any] | ZohoError) -> None:
        self._org, self._currencies = org, currencies
        self.calls: list[str] = []

    async def org_currency(self) -> OrgCurrency:
        self.calls.append("org")
        if isinstance(self._org, ZohoError):
            raise self._org
        return self._org

    async def currencies(self) -> list[Any]:
        self.calls.append("currencies")
        if isinstance(self._currencies, ZohoError):
            raise self._currencies
        return self._currencies

    async def fields(self, module: str) -> list[dict[str, Any]]:
        return []

    async def users(self) -> list[dict[str, Any]]:
        return []


def money(org: Org) -> OrgMoney | MoneyUnknown:
    return asyncio.run(read_money("global_us", org.org_currency, org.currencies))


def test_an_org_without_multi_currency_needs_only_get_org() -> None:
    org = Org(OrgCurrency("USD", False), OAuthScopeMismatch())
    assert money(org) == OrgMoney.single("USD")
    assert org.calls == ["org"]


def test_an_org_with_multi_currency_lists_its_currencies() -> None:
    eur = Currency("EUR", Decimal("0.9"), is_base=False, is_active=True)
    usd = Currency("USD", Decimal(1), is_base=True, is_active=True)
    found = money(Org(OrgCurrency("USD", True), [usd, eur]))
    assert isinstance(found, OrgMoney) and found.multi and found.takes("EUR")


@pytest.mark.parametrize(
    ("org", "currencies", "expected"),
    [
        (OAuthScopeMismatch(), [], "GET /org was refused (OAUTH_SCOPE_MISMATCH)"),
        (OAuthScopeMismatch(), [], "lacks the scope ZohoCRM.org.READ"),
        (OrgCurrency("USD", True), OAuthScopeMismatch(), "ZohoCRM.settings.currencies.READ"),
        (OrgCurrency("USD", None), NoPermission(), "GET /org/currencies was refused (NO_PERM"),
    ],
)
def test_a_refused_read_is_unknown_money_naming_the_call_and_the_scope(
    org: OrgCurrency | ZohoError, currencies: list[Any] | ZohoError, expected: str
) -> None:
    found = money(Org(org, currencies))
    assert isinstance(found, MoneyUnknown) and expected in found.reason


def test_an_org_out_of_reach_is_retried_not_unknown() -> None:
    with pytest.raises(ServerError):
        money(Org(ServerError(), []))


def test_the_cache_remembers_unknown_money_and_keeps_one_object() -> None:
    org = Org(OAuthScopeMismatch(), [])
    metadata = Metadata({"global_us": org})

    async def twice() -> tuple[Any, Any]:
        return await metadata.money("global_us"), await metadata.money("global_us")

    first, second = asyncio.run(twice())
    assert isinstance(first, MoneyUnknown) and first is second
    assert org.calls == ["org"]  # not asked again within UNKNOWN_SECONDS


def test_the_warning_reads_as_one_event_naming_the_org_and_the_scope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from orgsync_operations.logs import split_message

    metadata = Metadata({"global_us": Org(OAuthScopeMismatch(), [])})
    with caplog.at_level(logging.WARNING, logger="pipeline.sync.metadata"):
        asyncio.run(metadata.money("global_us"))
    [record] = caplog.records
    event, pairs = split_message(record.getMessage())
    assert (event, pairs["org"]) == ("currencies unknown", "global_us")
    assert "the token lacks the scope ZohoCRM.org.READ" in pairs["reason"]
