"""Field metadata, users and currencies of every org, as the processor reads them: the
clients' cached answers, reused for a second, with schema drift reported on a refresh and an
org that did not answer paused for a few seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

from connectors.zoho import CURRENCIES_SCOPE, ORG_SCOPE, OrgCurrency, RetryableError, ZohoError
from connectors.zoho.errors import NoPermission, OAuthScopeMismatch
from orgsync_kernel.settings import Settings
from pipeline.mapping.money import MoneyUnknown, OrgMoney
from pipeline.mapping.transforms import FieldIndex, UserDirectory, field_index
from pipeline.sync.drift import Drift, schema_drift

REUSE_SECONDS = 1.0
UNKNOWN_SECONDS = 60.0  # an org whose currencies could not be read is asked again after this
log = logging.getLogger(__name__)


class MetadataSource(Protocol):
    async def fields(self, module: str) -> list[dict[str, Any]]: ...

    async def users(self) -> list[dict[str, Any]]: ...

    async def currencies(self) -> list[Any]: ...

    async def org_currency(self) -> OrgCurrency: ...


class Metadata:
    """Target field metadata and org users, from each org's client (which caches them).

    After an org failed to answer, it is not asked again for `pause` seconds: the processor
    defers that org's routes at once instead of waiting out the client's retries per change.
    """

    def __init__(
        self,
        clients: Mapping[str, MetadataSource],
        pause: float = 5.0,
        on_drift: Callable[[str, str, list[Drift]], None] | None = None,
    ) -> None:
        self._clients = clients
        self._on_drift = on_drift
        self._pause = pause
        self._down_until: dict[str, float] = {}
        # Built views of the clients' cached lists, rebuilt only when a client refetched.
        self._views: dict[tuple[str, ...], tuple[list[dict[str, Any]], Any]] = {}
        self._recent: dict[tuple[str, ...], tuple[float, list[Any]]] = {}
        self._money: dict[str, OrgMoney] = {}
        self._unknown: dict[str, tuple[float, MoneyUnknown]] = {}

    async def fields(self, org: str, module: str) -> FieldIndex:
        key = ("fields", org, module)
        raw = await self._ask(key, lambda: self._clients[org].fields(module))
        before = self._views.get(key)
        if before is not None and before[0] is not raw and self._on_drift is not None:
            drifts = schema_drift(before[0], raw)  # the client re-read the metadata
            if drifts:
                self._on_drift(org, module, drifts)
        index: FieldIndex = self._view(key, raw, field_index)
        return index

    async def users(self, org: str) -> UserDirectory:
        key = ("users", org)
        raw = await self._ask(key, lambda: self._clients[org].users())
        users: UserDirectory = self._view(key, raw, UserDirectory.from_users)
        return users

    async def money(self, org: str) -> OrgMoney | MoneyUnknown:
        """The org's currencies, or why they could not be read (a scope missing): records
        with amounts then fail closed (pipeline/mapping/money.py). A failed read is tried
        again after `UNKNOWN_SECONDS`; an org out of reach raises `RetryableError`."""
        known = self._unknown.get(org)
        if known is not None and time.monotonic() < known[0]:
            return known[1]
        client = self._clients[org]
        money = await read_money(
            org,
            lambda: self._org_currency(org, client),
            lambda: self._ask(("currencies", org), client.currencies),
        )
        if isinstance(money, MoneyUnknown):
            if known is None or known[1] != money:
                log.warning("currencies unknown org=%s reason=%s", org, money.reason)
            else:
                money = known[1]  # the same object: the processor's context stays cached
            self._unknown[org] = (time.monotonic() + UNKNOWN_SECONDS, money)
            return money
        self._unknown.pop(org, None)
        cached = self._money.get(org)
        if cached is not None and cached == money:
            return cached
        self._money[org] = money
        return money

    async def _org_currency(self, org: str, client: MetadataSource) -> OrgCurrency:
        [info] = await self._ask(("org", org), lambda: _one(client.org_currency))
        return info  # type: ignore[no-any-return]

    async def warm(self, settings: Settings) -> None:
        """Ask for what the first changes will need (target fields, users of both orgs) now,
        so that the first burst is not slowed down by it; an org out of reach is skipped."""
        wanted: list[Coroutine[Any, Any, Any]] = []
        for route in settings.sync:
            wanted += [self.users(route.source), self.users(route.target)]
            wanted += [self.money(route.source), self.money(route.target)]
            wanted += [
                self.fields(route.target, route.target_module(module)) for module in route.modules
            ]
        await asyncio.gather(*wanted, return_exceptions=True)

    def _view(self, key: tuple[str, ...], raw: list[dict[str, Any]], build: Any) -> Any:
        cached = self._views.get(key)
        if cached is not None and cached[0] is raw:
            return cached[1]
        view = build(raw)
        self._views[key] = (raw, view)
        return view

    async def _ask(
        self, key: tuple[str, ...], ask: Callable[[], Coroutine[Any, Any, list[Any]]]
    ) -> list[Any]:
        """The client's (cached) answer; reused for `REUSE_SECONDS` without asking the client,
        whose cache lookup costs a task and a loop turn per call (three per change)."""
        org, now = key[1], time.monotonic()
        recent = self._recent.get(key)
        if recent is not None and now - recent[0] < REUSE_SECONDS:
            return recent[1]
        if now < self._down_until.get(org, 0.0):
            raise RetryableError(f"{org} did not answer recently", org=org)
        try:
            raw = await ask()
        except RetryableError:
            self._down_until[org] = time.monotonic() + self._pause
            raise
        self._recent[key] = (now, raw)
        return raw


async def read_money(
    org: str,
    org_currency: Callable[[], Awaitable[OrgCurrency]],
    currencies: Callable[[], Awaitable[list[Any]]],
) -> OrgMoney | MoneyUnknown:
    """An org's money from `GET /org` (home currency, multi-currency on or off) and, when it
    is on (or `/org` does not say), `GET /org/currencies` ([] when off); what could not be
    read otherwise. Retryable errors propagate (the org is out of reach, not refusing)."""
    try:
        info = await org_currency()
    except ZohoError as error:
        if error.retryable:
            raise
        return MoneyUnknown(org, refusal("GET /org", ORG_SCOPE, error))
    if info.multi is False:
        return OrgMoney.single(info.home)
    try:
        listed = await currencies()
    except ZohoError as error:
        if error.retryable:
            raise
        return MoneyUnknown(org, refusal("GET /org/currencies", CURRENCIES_SCOPE, error))
    return OrgMoney.of(listed, info.home)


def refusal(call: str, scope: str, error: ZohoError) -> str:
    """What a refused read means, for a dead letter or `orgsync check` (never a secret: Zoho's
    code and the scope's name only)."""
    if isinstance(error, OAuthScopeMismatch):
        return (
            f"{call} was refused (OAUTH_SCOPE_MISMATCH): the token lacks the scope {scope}; "
            f"generate a grant with it (docs/zoho-setup.md)"
        )
    if isinstance(error, NoPermission):
        return f"{call} was refused (NO_PERMISSION): the API user's profile may not read it"
    return f"{call} failed ({error.zoho_code or type(error).__name__})"


async def _one(read: Callable[[], Awaitable[OrgCurrency]]) -> list[OrgCurrency]:
    return [await read()]
