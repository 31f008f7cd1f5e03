"""Multi-currency (reference §18): the org's currencies, and what they mean for records.

An org starts with multi-currency off (only its home currency, shown by ``/org``). Once on
(config or ``POST /org/currencies/actions/enable``), every module with a ``currency`` field
gains ``Currency`` (picklist of ISO codes) and ``Exchange_Rate`` (double); a record's amounts
are in its own currency and ``Exchange_Rate`` is "1 home = rate units" of it, frozen at write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from .config import CurrencyConfig
from .record_error import RecordError
from .schema import FieldDef, ModuleDef

CURRENCY, EXCHANGE_RATE, SYMBOL = "Currency", "Exchange_Rate", "$currency_symbol"
ONE = Decimal(1)
# names and symbols of common currencies; another ISO code is named and shown by its code
KNOWN: dict[str, tuple[str, str]] = {
    "USD": ("US Dollar", "$"),
    "EUR": ("Euro", "€"),
    "GBP": ("Pound Sterling", "£"),
    "INR": ("Indian Rupee", "₹"),
    "JPY": ("Japanese Yen", "¥"),
    "CNY": ("Chinese Yuan Renminbi", "¥"),
    "AUD": ("Australian Dollar", "A$"),
    "CAD": ("Canadian Dollar", "C$"),
    "SAR": ("Saudi Riyal", "SR"),
    "CHF": ("Swiss Franc", "CHF"),
}


def default_format() -> dict[str, str]:
    return {
        "decimal_separator": "Period",
        "thousand_separator": "Comma",
        "decimal_places": "2",
        "numeral_system": "International",
    }


@dataclass
class Currency:
    id: str
    iso_code: str
    name: str
    symbol: str
    exchange_rate: Decimal
    is_base: bool = False
    is_active: bool = True
    prefix_symbol: bool = True
    format: dict[str, str] = field(default_factory=default_format)
    exchange_rate_auto_update: bool = False
    created_s: int = 0
    modified_s: int = 0
    rate_updated_s: int = 0


def new_currency(cid: str, iso: str, rate: Decimal, now_s: int, **given: Any) -> Currency:
    """A currency with Zoho's name (``"Euro - EUR"``) and symbol unless given."""
    name, symbol = KNOWN.get(iso, (iso, iso))
    given.setdefault("name", f"{name} - {iso}")
    given.setdefault("symbol", symbol)
    currency = Currency(cid, iso, exchange_rate=rate, **given)
    currency.created_s = currency.modified_s = currency.rate_updated_s = now_s
    return currency


def rate_text(rate: Decimal) -> str:
    """Zoho's ``exchange_rate``: a string with exactly 9 decimals."""
    return f"{rate:.9f}"


def invalid(message: str, name: str, path: str, **extra: Any) -> RecordError:
    return RecordError("INVALID_DATA", message, {"api_name": name, "json_path": path, **extra})


class OrgCurrencies:
    """The org's currencies by id; ``enabled`` once multi-currency is switched on."""

    def __init__(self, config: CurrencyConfig, new_id: Callable[[], str], now_s: int) -> None:
        self.home_code = config.home
        self.enabled = False
        self.by_id: dict[str, Currency] = {}
        if config.enabled:
            self.enable(new_currency(new_id(), config.home, ONE, now_s, is_base=True))
            for spec in config.currencies:
                iso, rate = str(spec["iso_code"]).upper(), Decimal(str(spec["exchange_rate"]))
                extra = {k: spec[k] for k in ("name", "symbol", "is_active") if k in spec}
                self.add(new_currency(new_id(), iso, rate, now_s, **extra))

    def enable(self, base: Currency) -> None:
        self.enabled, self.home_code = True, base.iso_code
        self.add(base)

    def add(self, currency: Currency) -> None:
        self.by_id[currency.id] = currency

    @property
    def base(self) -> Currency | None:
        return self.find(self.home_code) if self.enabled else None

    def find(self, iso: Any) -> Currency | None:
        return next((c for c in self.by_id.values() if c.iso_code == iso), None)

    def codes(self) -> tuple[str, ...]:
        return tuple(c.iso_code for c in self.by_id.values())

    def active_count(self) -> int:
        return sum(c.is_active for c in self.by_id.values())

    def symbol_of(self, iso: Any) -> str | None:
        found = self.find(iso)
        return found.symbol if found else None

    def home_name_symbol(self) -> tuple[str, str]:
        """For ``/org``: the base currency's, else the home code's known name and symbol."""
        base = self.base
        if base is not None:
            return base.name, base.symbol
        name, symbol = KNOWN.get(self.home_code, (self.home_code, self.home_code))
        return f"{name} - {self.home_code}", symbol

    def settle(
        self,
        values: dict[str, Any],
        changes: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        i: int,
    ) -> None:
        """A written record's ``Currency`` (home unless given; an active one when newly named)
        and ``Exchange_Rate`` (the currency's current rate unless given; home: always 1)."""
        code = values.setdefault(CURRENCY, self.home_code)
        before = previous.get(CURRENCY) if previous else None
        found = self.find(code)
        if code != before and (found is None or not found.is_active):
            raise invalid("invalid data", CURRENCY, f"$.data[{i}].{CURRENCY}")
        if code == self.home_code:
            values[EXCHANGE_RATE] = 1.0
        elif changes.get(EXCHANGE_RATE) is not None:
            if values[EXCHANGE_RATE] <= 0:
                raise invalid("invalid data", EXCHANGE_RATE, f"$.data[{i}].{EXCHANGE_RATE}")
        elif found is not None and (code != before or values.get(EXCHANGE_RATE) is None):
            values[EXCHANGE_RATE] = float(found.exchange_rate)


def convert(amount: Any, from_rate: Any, to_rate: Any) -> Any:
    """An amount from one record's currency into another's, through the home currency."""
    if amount is None or float(from_rate or 1) == float(to_rate or 1):
        return amount
    return round(float(amount) / float(from_rate or 1) * float(to_rate or 1), 2)


def has_amounts(module: ModuleDef) -> bool:
    return any(f.data_type == "currency" for f in module.fields.values())


def with_currency_fields(
    modules: Mapping[str, ModuleDef], codes: tuple[str, ...], new_id: Callable[[], str]
) -> dict[str, ModuleDef]:
    """The modules with amounts, given ``Currency`` (picklist of ``codes``) and ``Exchange_Rate``;
    ids of fields they already have are kept."""
    out: dict[str, ModuleDef] = {}
    for api, module in modules.items():
        if not has_amounts(module):
            continue
        old = module.fields.get(CURRENCY)
        currency = FieldDef(CURRENCY, "picklist", length=3, pick_list=codes)
        rate = module.fields.get(EXCHANGE_RATE) or FieldDef(EXCHANGE_RATE, "double", length=16)
        added = {
            CURRENCY: replace(currency, id=old.id if old else new_id()),
            EXCHANGE_RATE: rate if rate.id else replace(rate, id=new_id()),
        }
        out[api] = replace(module, fields={**module.fields, **added})
    return out
