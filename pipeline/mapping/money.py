"""Money means the same money in both orgs: a record's currency across orgs (pure).

Zoho keeps every amount of a record in the record's `Currency`; its `Exchange_Rate` is how many
units of that currency make one unit of the org's home currency (reference §18). An org without
multi-currency has one currency, its home, and no `Currency` field. For a record with amounts:

- the target has the record's currency (its home, or an active currency when it has
  multi-currency): the amounts go as they are, with `Currency` when the target has the field.
  The source's rate is not copied: it is relative to another home currency, and the target
  applies its own;
- it has not and the route says `currency: convert`: every amount (currency fields, line-item
  prices) is converted into the target's home currency, preferring the target's rates, then the
  source's, then the configured `exchange_rates` (two single-currency orgs, Zoho's default,
  have no rate at all);
- otherwise (`reject`, the default) the record is rejected, naming both currencies.

Money fails closed: when an org's currencies could not be read (`MoneyUnknown`, e.g. a scope
missing), a record with amounts is rejected naming what could not be read; it is never written
as plain numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

CURRENCY = "Currency"
EXCHANGE_RATE = "Exchange_Rate"
# Dead-letter codes of a record whose amounts cannot be written right.
UNKNOWN = "CURRENCY_UNKNOWN"  # an org's currencies could not be read
NOT_IN_TARGET = "CURRENCY_NOT_IN_TARGET"  # `currency: reject`
NO_RATE = "NO_EXCHANGE_RATE"  # `currency: convert` without a rate
CURRENCY_CODES = frozenset({UNKNOWN, NOT_IN_TARGET, NO_RATE})  # `Rejected.code` of the above

Rates = Mapping[tuple[str, str], Decimal]  # (from, to) -> units of `to` per one `from`


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

    @property
    def occurring(self) -> list[str]:
        """Currencies a record of this org can be in: its home and, with multi-currency, every
        listed one (a record keeps a currency retired after it was written)."""
        return [self.home, *sorted(set(self.rates) - {self.home})]


@dataclass(frozen=True)
class MoneyUnknown:
    """An org whose currencies could not be read; `reason` says what was refused and what
    would fix it (pipeline/sync/metadata.py)."""

    org: str
    reason: str


@dataclass(frozen=True)
class MoneyProblem:
    """Why a record's amounts cannot be written: a dead-letter code and its message."""

    code: str
    message: str


def exchange_rates(configured: Mapping[str, float]) -> dict[tuple[str, str], Decimal]:
    """The settings' `exchange_rates` ("INR/USD": units of USD per one INR) by pair, each
    reverse pair derived unless it is given too."""
    given: dict[tuple[str, str], Decimal] = {}
    for pair, number in configured.items():
        first, _, second = pair.partition("/")
        given[(first, second)] = Decimal(str(number))
    rates = dict(given)
    for (first, second), rate in given.items():
        rates.setdefault((second, first), 1 / rate)
    return rates


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

    source: OrgMoney | MoneyUnknown
    target: OrgMoney | MoneyUnknown
    policy: str  # convert | reject
    amounts: Amounts
    rates: Rates = field(default_factory=dict)  # the settings' exchange_rates


def settle_currency(
    record: Mapping[str, Any], data: dict[str, Any], rule: CurrencyRule
) -> MoneyProblem | None:
    """Sets `Currency` and converts `data` in place as the module docstring says; returns why
    the record must be rejected, or None."""
    source, target = rule.source, rule.target
    data.pop(EXCHANGE_RATE, None)
    data.pop(CURRENCY, None)
    if isinstance(source, MoneyUnknown) or isinstance(target, MoneyUnknown):
        return _unknown(source, target) if _holds_money(data, rule.amounts) else None
    currency = str(record.get(CURRENCY) or source.home)
    if target.takes(currency):
        if target.multi:
            data[CURRENCY] = currency
        return None
    if not _holds_money(data, rule.amounts):
        return None
    if rule.policy != "convert":
        return MoneyProblem(
            NOT_IN_TARGET,
            f"the record's amounts are in {currency}, which the target org does not have "
            f"(home {target.home}); set currency: convert on the route to convert them",
        )
    factor = conversion(currency, record.get(EXCHANGE_RATE), source, target, rule.rates)
    if factor is None:
        return MoneyProblem(NO_RATE, _no_rate(currency, target.home))
    _convert(data, rule.amounts, factor)
    if target.multi:
        data[CURRENCY] = target.home
    return None


def currency_problem(
    record: Mapping[str, Any], data: Mapping[str, Any], rule: CurrencyRule
) -> MoneyProblem | None:
    """Would the sync reject this mapped record for its currency? `data` is left as it is
    (for `orgsync plan`, which counts the records the sync would dead-letter)."""
    return settle_currency(record, copy.deepcopy(dict(data)), rule)


def currency_outcome(
    currency: str, source: OrgMoney, target: OrgMoney, policy: str, rates: Rates
) -> str:
    """What becomes of amounts in `currency` on a route (for `orgsync check`): "carried",
    "converted", or "rejected" (`reject`, or `convert` without a rate)."""
    if target.takes(currency):
        return "carried"
    if policy == "convert" and conversion(currency, None, source, target, rates):
        return "converted"
    return "rejected"


def conversion(
    currency: str, record_rate: Any, source: OrgMoney, target: OrgMoney, rates: Rates
) -> Decimal | None:
    """Units of the target's home currency per unit of `currency`: the target's rate for it,
    else through the source's home with either org's rate, else the configured rates (for the
    pair itself, or from the source's home to the target's)."""
    if target.rates.get(currency):
        return 1 / target.rates[currency]
    to_home = _to_source_home(currency, record_rate, source)
    if to_home is not None and target.rates.get(source.home):
        return to_home / target.rates[source.home]
    if to_home is not None and source.rates.get(target.home):
        return to_home * source.rates[target.home]
    if (currency, target.home) in rates:
        return rates[(currency, target.home)]
    if to_home is not None and (source.home, target.home) in rates:
        return to_home * rates[(source.home, target.home)]
    return None


def _to_source_home(currency: str, record_rate: Any, source: OrgMoney) -> Decimal | None:
    """Units of the source's home currency per unit of `currency` (the record's own rate
    first: its amounts were entered at it)."""
    if currency == source.home:
        return Decimal(1)
    rate = Decimal(str(record_rate)) if record_rate else source.rates.get(currency)
    return 1 / rate if rate else None


def _unknown(source: OrgMoney | MoneyUnknown, target: OrgMoney | MoneyUnknown) -> MoneyProblem:
    unknown = [side for side in (source, target) if isinstance(side, MoneyUnknown)]
    what = "; ".join(f"the currencies of org {u.org} cannot be read: {u.reason}" for u in unknown)
    return MoneyProblem(UNKNOWN, f"{what}; a record with amounts is not written until they can")


def _no_rate(currency: str, home: str) -> str:
    return (
        f"no exchange rate from {currency} to {home} in either org: give one in the "
        f'configuration, exchange_rates: {{"{currency}/{home}": RATE}} ({home} per one {currency})'
    )


def _holds_money(data: Mapping[str, Any], amounts: Amounts) -> bool:
    if any(data.get(name) is not None for name in amounts.fields):
        return True
    return any(
        row.get(name) is not None
        for subform, names in amounts.rows.items()
        for row in data.get(subform) or ()
        for name in names
    )


def _convert(data: dict[str, Any], amounts: Amounts, factor: Decimal) -> None:
    for name in amounts.fields & data.keys():
        data[name] = _times(data[name], factor)
    for subform, names in amounts.rows.items():
        for row in data.get(subform) or ():
            for name in names & row.keys():
                row[name] = _times(row[name], factor)


def _times(amount: Any, factor: Decimal) -> Any:
    if amount is None or isinstance(amount, bool) or not isinstance(amount, int | float):
        return amount
    return float(round(Decimal(str(amount)) * factor, 2))
