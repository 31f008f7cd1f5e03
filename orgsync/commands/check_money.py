"""`orgsync check`, per route: what becomes of money (pipeline/mapping/money.py).

Shows both orgs' home currencies and whether multi-currency is on, then for every currency a
source record can be in whether its amounts are carried, converted, or dead-lettered. FAIL when
records with amounts would all be dead-lettered for want of something the configuration or the
grant can give (currencies unreadable, `convert` without a rate); WARN when `currency: reject`
dead-letters some currency (a choice, but the default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from orgsync.commands.check_module import FAIL, OK, SKIP, WARN, Fields, Row
from pipeline.mapping.money import (
    MoneyUnknown,
    OrgMoney,
    Rates,
    currency_outcome,
    exchange_rates,
)

if TYPE_CHECKING:
    from orgsync_kernel.settings import Route


class MoneyOrgs(Protocol):
    unusable: dict[str, str]

    async def fields(self, org: str, module: str) -> Fields: ...

    async def money(self, org: str) -> OrgMoney | MoneyUnknown: ...


async def check_currency(orgs: MoneyOrgs, route: Route, configured: dict[str, float]) -> list[Row]:
    from connectors.zoho import ZohoError

    blocked = [
        f"org {o}: {orgs.unusable[o]}" for o in (route.source, route.target) if o in orgs.unusable
    ]
    if blocked:
        return [Row("currency", route.name, SKIP, "; ".join(blocked))]
    try:
        source, target = await orgs.money(route.source), await orgs.money(route.target)
        holding = [m for m in route.modules if await _holds_money(orgs, route, m)]
    except ZohoError as error:
        return [Row("currency", route.name, WARN, f"not checked: {error}")]
    head = f"{_side(route.source, source)}; {_side(route.target, target)}"
    if not holding:
        return [Row("currency", route.name, OK, f"{head}; no synced module holds amounts")]
    if isinstance(source, MoneyUnknown) or isinstance(target, MoneyUnknown):
        detail = f"{head}; records with amounts go to the DLQ (CURRENCY_UNKNOWN)"
        return [Row("currency", route.name, FAIL, detail)]
    result, outcomes = _outcomes(route, holding, source, target, exchange_rates(configured))
    return [Row("currency", route.name, result, f"{head}; {outcomes}")]


def _outcomes(
    route: Route, holding: list[str], source: OrgMoney, target: OrgMoney, rates: Rates
) -> tuple[str, str]:
    """Per currency a source record can be in, per currency policy of the modules with
    amounts: what becomes of it, and the row's result."""
    policies = sorted({route.currency_policy(m) for m in holding})
    said, worst = [], 0
    for currency in source.occurring:
        for policy in policies:
            where = f" under currency: {policy}" if len(policies) > 1 else ""
            level, text = _fate(currency, source, target, policy, rates)
            said.append(f"{currency} {text}{where}")
            worst = max(worst, level)
    return (OK, WARN, FAIL)[worst], "; ".join(said)


def _fate(
    currency: str, source: OrgMoney, target: OrgMoney, policy: str, rates: Rates
) -> tuple[int, str]:
    """What becomes of amounts in `currency`, and how bad it is (0 ok, 1 warn, 2 fail)."""
    outcome = currency_outcome(currency, source, target, policy, rates)
    if outcome != "rejected":
        return 0, outcome
    rate = f'exchange_rates: {{"{currency}/{target.home}": RATE}}'
    if policy == "convert":
        return 2, f"dead-lettered: no exchange rate to {target.home}; add {rate}"
    convertible = currency_outcome(currency, source, target, "convert", rates) == "converted"
    fix = "currency: convert" + ("" if convertible else f" with {rate}")
    return 1, f"dead-lettered (currency: reject); {fix} would convert it"


def _side(org: str, money: OrgMoney | MoneyUnknown) -> str:
    if isinstance(money, MoneyUnknown):
        return f"{org}: currencies unknown ({money.reason})"
    multi = f"on ({', '.join(money.occurring)})" if money.multi else "off"
    return f"{org}: home {money.home}, multi-currency {multi}"


async def _holds_money(orgs: MoneyOrgs, route: Route, module: str) -> bool:
    """Whether the target module has amounts: currency fields, or line items (subforms)."""
    fields: dict[str, Any] = await orgs.fields(route.target, route.target_module(module))
    return any(
        meta.get("data_type") == "currency" or meta.get("data_type") == "subform"
        for meta in fields.values()
    )
