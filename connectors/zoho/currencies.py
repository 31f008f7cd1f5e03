"""The org's currencies (reference §18): ``GET /org/currencies``. Mixed into ``ZohoClient``.

An org without multi-currency answers 403 ``CURRENCIES_NOT_ENABLED`` (below the Enterprise
edition, where it cannot be switched on: 403 ``FEATURE_NOT_SUPPORTED``); ``currencies()`` then
returns ``[]``. Every org with multi-currency has at least its base (home) currency, so an
empty list means exactly "multi-currency off": its records carry no ``Currency`` field and all
their amounts are in the org's home currency.

``GET /org`` (``org_currency()``) tells the home currency (``iso_code``) and whether
multi-currency is on (``mc_status``, in Zoho's get-org-data sample), so an org without it needs
only ``ZohoCRM.org.READ``; its currencies need ``ZohoCRM.settings.currencies.READ`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import CurrenciesNotEnabled, FeatureNotSupported, UnexpectedResponse
from .limits import Priority
from .metadata import TtlCache
from .transport import Call, ZohoTransport

ORG_SCOPE = "ZohoCRM.org.READ"  # GET /org (v7 get-org-data page)
CURRENCIES_SCOPE = "ZohoCRM.settings.currencies.READ"  # GET /org/currencies (v7 get-currencies)


@dataclass(frozen=True)
class OrgCurrency:
    """What ``GET /org`` says of money: the home currency, and whether multi-currency is on
    (None when the answer does not say)."""

    home: str
    multi: bool | None


@dataclass(frozen=True)
class Currency:
    """One currency of the org; ``exchange_rate`` is units of it per 1 home currency."""

    iso_code: str
    exchange_rate: Decimal
    is_base: bool
    is_active: bool
    id: str = ""
    symbol: str = ""
    name: str = ""


def parse_currency(raw: Mapping[str, Any]) -> Currency:
    """Zoho's currency object (``exchange_rate`` a string such as ``"0.920000000"``)."""
    try:
        rate = Decimal(str(raw["exchange_rate"]))
        return Currency(
            iso_code=str(raw["iso_code"]),
            exchange_rate=rate,
            is_base=raw.get("is_base") is True,
            is_active=raw.get("is_active") is not False,
            id=str(raw.get("id") or ""),
            symbol=str(raw.get("symbol") or ""),
            name=str(raw.get("name") or ""),
        )
    except (KeyError, InvalidOperation) as exc:
        raise UnexpectedResponse(f"a currency without iso_code/exchange_rate: {exc!r}") from None


class CurrenciesAPI:
    _transport: ZohoTransport

    _metadata: TtlCache

    async def currencies(self, *, priority: Priority = Priority.LIVE) -> list[Currency]:
        """The org's currencies, base first; ``[]`` when multi-currency is off (cached like
        field metadata)."""

        async def fetch() -> list[Currency]:
            call = Call("GET", "/org/currencies", "metadata", priority=priority)
            try:
                response = await self._transport.call(call)
            except (CurrenciesNotEnabled, FeatureNotSupported):
                return []
            body = response.body
            found = body.get("currencies") if isinstance(body, dict) else None
            return [parse_currency(c) for c in found or () if isinstance(c, Mapping)]

        result: list[Currency] = await self._metadata.get("currencies", fetch)
        return result

    async def org_currency(self, *, priority: Priority = Priority.LIVE) -> OrgCurrency:
        """The org's home currency (ISO code) and ``mc_status`` from ``GET /org`` (scope
        ``ZohoCRM.org.READ``; cached like field metadata)."""

        async def fetch() -> OrgCurrency:
            call = Call("GET", "/org", "metadata", priority=priority)
            body = (await self._transport.call(call)).body
            orgs = body.get("org") if isinstance(body, dict) else None
            first = orgs[0] if isinstance(orgs, list) and orgs else {}
            first = first if isinstance(first, Mapping) else {}
            code, multi = first.get("iso_code"), first.get("mc_status")
            if not isinstance(code, str) or not code:
                raise UnexpectedResponse("GET /org answered without the home currency's iso_code")
            return OrgCurrency(code, multi if isinstance(multi, bool) else None)

        result: OrgCurrency = await self._metadata.get("org_currency", fetch)
        return result

    async def home_currency(self, *, priority: Priority = Priority.LIVE) -> str:
        """The org's home currency (ISO code, ``GET /org``), whether or not it has
        multi-currency (scope ``ZohoCRM.org.READ``)."""
        return (await self.org_currency(priority=priority)).home
