"""Money means the same money in both orgs: a record's currency across orgs (pure).

Zoho keeps every amount of a record in the record's `Currency`; its `Exchange_Rate` is how many
units of that currency make one unit of the org's home currency (reference §18). An org without
multi-currency has one currency, its home, and no `Currency` field. For a record with amounts:

- the target has the record's currency (its home, or an active currency when it has
  multi-currency): the amounts go as they are, with `Currency` when the target has the field.
  The source's rate is not copied: it is relative to another home currency, and the target
  applies its own;
- it has not and the route says `currency: convert`: every amount (currency fields, line-item
  prices) is converted into the target's home currency, preferring the target's rates;
- otherwise (`reject`, the default) the record is rejected, naming both currencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CURRENCY = "Currency"
EXCHANGE_RATE = "Exchange_Rate"


@dataclass(frozen=True)
class OrgMoney:
    """One org's currencies: rates as units per one home unit (the home's is 1)."""

    home: str
    rates: Mapping[str, Decimal]
    active: frozenset[str]
    multi: bool

    @classmethod
    def single(cls, home: str) -> OrgMoney:
        return cls(home, {home: Decimal(1)}, frozenset({home}), False)

    @classmethod
    def of(cls, currencies: Iterable[Any], home: str) -> OrgMoney:
        """From `ZohoClient.currencies()` (empty: multi-currency off, `home` its currency)."""
        listed = list(currencies)
        if not listed:
            return cls.single(home)
        base = next((c.iso_code for c in listed if c.is_base), home)
        rates = {c.iso_code: Decimal(c.exchange_rate) for c in listed}
        return cls(base, rates, frozenset(c.iso_code for c in listed if c.is_active), True)

    def takes(self, currency: str) -> bool:
        return currency == self.home or (self.multi and currency in self.active)


@dataclass(frozen=True)
class Amounts:
    """Where a target module keeps money: its currency fields and its subforms' ones."""

    fields: frozenset[str]
    rows: Mapping[str, frozenset[str]]

    def __bool__(self) -> bool:
        return bool(self.fields) or any(self.rows.values())


@dataclass(frozen=True)
class CurrencyRule:
    """What a route module's transform needs to settle currencies."""

    source: OrgMoney
    target: OrgMoney
    policy: str  # convert | reject
    amounts: Amounts


def settle_currency(
    record: Mapping[str, Any], data: dict[str, Any], rule: CurrencyRule
) -> str | None:
    """Sets `Currency` and converts `data` in place as the module docstring says; returns the
    reason to reject the record, or None."""
    source, target, amounts = rule.source, rule.target, rule.amounts
    data.pop(EXCHANGE_RATE, None)
    data.pop(CURRENCY, None)
    currency = str(record.get(CURRENCY) or source.home)
    if target.takes(currency) or not _holds_money(data, amounts):
        if target.multi and target.takes(currency):
            data[CURRENCY] = currency
        return None
    if rule.policy != "convert":
        return (
            f"the record's amounts are in {currency}, which the target org does not have "
            f"(home {target.home}); set currency: convert on the route to convert them"
        )
    factor = _factor(currency, record.get(EXCHANGE_RATE), source, target)
    if factor is None:
        return f"no exchange rate from {currency} to {target.home} in either org"
    _convert(data, amounts, factor)
    if target.multi:
        data[CURRENCY] = target.home
    return None


def _factor(currency: str, record_rate: Any, source: OrgMoney, target: OrgMoney) -> Decimal | None:
    """Units of the target's home currency per unit of `currency`."""
    if target.rates.get(currency):
        return 1 / target.rates[currency]
    rate = Decimal(str(record_rate)) if record_rate else source.rates.get(currency)
    if not rate:
        return None
    if target.rates.get(source.home):  # currency → source home → target home
        return 1 / rate / target.rates[source.home]
    if source.rates.get(target.home):
        return source.rates[target.home] / rate
    return None


def _holds_money(data: Mapping[str, Any], amounts: Amounts) -> bool:
    if any(data.get(name) is not None for name in amounts.fields):
        return True
    return any(
        row.get(name) is not None
        for field, names in amounts.rows.items()
        for row in data.get(field) or ()
        for name in names
    )


def _convert(data: dict[str, Any], amounts: Amounts, factor: Decimal) -> None:
    for name in amounts.fields & data.keys():
        data[name] = _times(data[name], factor)
    for field, names in amounts.rows.items():
        for row in data.get(field) or ():
            for name in names & row.keys():
                row[name] = _times(row[name], factor)


def _times(amount: Any, factor: Decimal) -> Any:
    if amount is None or isinstance(amount, bool) or not isinstance(amount, int | float):
        return amount
    return float(round(Decimal(str(amount)) * factor, 2))
