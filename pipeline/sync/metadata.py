"""Field metadata, users and currencies of every org, as the processor reads them: the
clients' cached answers, reused for a second, with schema drift reported on a refresh and an
org that did not answer paused for a few seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from connectors.zoho import RetryableError, ZohoError
from orgsync_kernel.settings import Settings
from pipeline.mapping.money import OrgMoney
from pipeline.mapping.transforms import FieldIndex, UserDirectory, field_index
from pipeline.sync.drift import Drift, schema_drift

REUSE_SECONDS = 1.0
log = logging.getLogger(__name__)


class MetadataSource(Protocol):
    async def fields(self, module: str) -> list[dict[str, Any]]: ...

    async def users(self) -> list[dict[str, Any]]: ...

    async def currencies(self) -> list[Any]: ...

    async def home_currency(self) -> str: ...


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
        self._no_money: set[str] = set()

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

    async def money(self, org: str) -> OrgMoney | None:
        """The org's currencies; None when it does not tell (a scope missing), and then
        amounts are copied as numbers (logged once per org)."""
        client = self._clients[org]
        try:
            listed = await self._ask(("currencies", org), client.currencies)
            home = [] if listed else await self._ask(("home", org), lambda: _listed(client))
        except RetryableError:
            raise
        except ZohoError as error:
            if org not in self._no_money:
                self._no_money.add(org)
                log.warning("currencies of org=%s unknown (%s)", org, error.zoho_code)
            return None
        money: OrgMoney = self._view(
            ("money", org), listed or home, lambda _: OrgMoney.of(listed, home[0] if home else "")
        )
        return money

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


async def _listed(client: MetadataSource) -> list[str]:
    return [await client.home_currency()]
