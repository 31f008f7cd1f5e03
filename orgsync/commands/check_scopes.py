"""`orgsync check`, per org: the OAuth scopes the configuration needs of it.

A scope is proven by a read of an endpoint that needs it (nothing is changed; a few credits);
a refusal (`OAUTH_SCOPE_MISMATCH`, `NO_PERMISSION`) fails the row. Write scopes cannot be proven
without writing, and Bulk Read only by creating a job: those are listed as "not verifiable"
rather than left out. Which scope each call needs: docs/zoho-setup.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from connectors.zoho import CURRENCIES_SCOPE, ORG_SCOPE, ZohoError
from connectors.zoho import scopes as s
from orgsync.commands.check_module import FAIL, OK, SKIP, WARN, Row

if TYPE_CHECKING:
    from connectors.zoho import ZohoClient
    from orgsync_kernel.settings import ModuleRoute, Settings

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class NotNeeded(Exception):
    """The configuration does not need this scope of this org after all (said why)."""


class Unprovable(Exception):
    """No read can prove the scope now (e.g. no record to read the attachments of)."""


class ScopeOrgs(Protocol):
    unusable: dict[str, str]

    @property
    def settings(self) -> Settings: ...

    @property
    def clients(self) -> Mapping[str, ZohoClient]: ...

    async def fields(self, org: str, module: str) -> Any: ...

    async def users(self, org: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Probe:
    scope: str  # what a successful read proves ("A + B": both)
    read: Callable[[], Awaitable[Any]]


async def check_scopes(orgs: ScopeOrgs, org: str) -> list[Row]:
    import asyncio

    if org in orgs.unusable:
        return [Row("scopes", org, SKIP, f"org {org}: {orgs.unusable[org]}")]
    probes = Probes(orgs, org).all()
    results = await asyncio.gather(*(p.read() for p in probes), return_exceptions=True)
    found = {p.scope: r for p, r in zip(probes, results, strict=True)}
    return [scope_row(org, found, unverifiable(orgs.settings, org))]


class Probes:
    """The reads that prove what `org`'s part of the configuration needs."""

    def __init__(self, orgs: ScopeOrgs, org: str) -> None:
        self.orgs, self.org, self.client = orgs, org, orgs.clients[org]
        settings = orgs.settings
        self.sources = sorted(settings.synced_modules(org))
        self.targets = {
            route.target_module(m): mapping
            for route in settings.routes_into(org)
            for m, mapping in route.modules.items()
        }
        self.by_module = {
            m: mapping for r in settings.routes_from(org) for m, mapping in r.modules.items()
        }
        self.by_module.update(self.targets)

    def all(self) -> list[Probe]:
        client, first = self.client, sorted({*self.sources, *self.targets})[:1]
        found = [Probe(s.USERS_READ, lambda: self.orgs.users(self.org))]
        found += [Probe(s.FIELDS_READ, partial(self.orgs.fields, self.org, m)) for m in first]
        found += [Probe(s.module_scope(m, "READ"), self._reader(m)) for m in self._read()]
        found += [Probe(ORG_SCOPE, client.org_currency), Probe(CURRENCIES_SCOPE, self._currencies)]
        found += self._related()
        if any(m.link_existing for m in self.targets.values()):
            linking = next(m for m, mapping in self.targets.items() if mapping.link_existing)
            found.append(Probe(s.COQL_READ, lambda: self._coql(linking)))
        if self.sources:
            count = f"{s.SEARCH_READ} + {s.LAYOUTS_READ}"  # backfill's record count
            found.append(Probe(count, lambda: client.count(self.sources[0])))
            if self.orgs.settings.ingress.public_url:
                found.append(Probe(s.NOTIFICATIONS_READ, client.watch_get))
        return found

    def _read(self) -> list[str]:
        """Modules whose records orgsync reads here: the sources, and the targets where it
        looks for existing records or reads related items."""
        read = set(self.sources)
        read |= {m for m, mapping in self.targets.items() if _reads_target(mapping)}
        return sorted(read)

    def _related(self) -> list[Probe]:
        client, found = self.client, []
        if self._with("notes"):
            found.append(Probe(s.module_scope("Notes", "READ"), self._reader("Notes")))
        if attached := self._with("attachments"):
            found.append(Probe(s.module_scope("Attachments", "READ"), self._attachments(attached)))
        if tagged := self._with("tags"):
            found.append(Probe(s.TAGS_READ, partial(client.tags, tagged[0])))
        if listed := self._with("related_lists"):
            found.append(Probe(s.RELATED_LISTS_READ, partial(client.related_lists, listed[0])))
        return found

    def _with(self, setting: str) -> list[str]:
        """This org's modules (source or target) whose mapping turns `setting` on."""
        return sorted(m for m, mapping in self.by_module.items() if getattr(mapping, setting))

    def _reader(self, module: str) -> Callable[[], Awaitable[None]]:
        async def read() -> None:
            """What was modified from now on (normally nothing)."""
            since = datetime.now(UTC)
            async for _ in self.client.list_modified_since(module, since, ["Modified_Time"]):
                pass

        return read

    async def _currencies(self) -> Any:
        try:
            multi = (await self.client.org_currency()).multi
        except ZohoError:  # GET /org's own probe tells why; try the list anyway
            multi = None
        if multi is False:
            raise NotNeeded("multi-currency off")
        return await self.client.currencies()

    def _attachments(self, modules: list[str]) -> Callable[[], Awaitable[Any]]:
        async def read() -> Any:
            """The attachments of one record of a module that syncs them."""
            for module in modules:
                async for record in self.client.list_modified_since(module, EPOCH, ["id"]):
                    return await self.client.attachments(module, str(record.get("id")))
            raise Unprovable(f"no record in {', '.join(modules)} to read the attachments of")

        return read

    async def _coql(self, module: str) -> Any:
        return await self.client.query(f"select id from {module} where id is null", limit=1)


def _reads_target(mapping: ModuleRoute) -> bool:
    return bool(
        mapping.link_existing or mapping.notes or mapping.attachments or mapping.related_lists
    )


def unverifiable(settings: Settings, org: str) -> list[str]:
    """The scopes `org` needs that no read proves: its writes, and Bulk Read."""
    needed: list[str] = []
    for route in settings.routes_into(org):
        for module, mapping in route.modules.items():
            needed += _writes(route.target_module(module), mapping)
    if settings.routes_from(org):
        needed.append(f"{s.BULK_READ} (backfill --bulk)")
        if settings.ingress.public_url:
            needed += s.NOTIFICATIONS_WRITE
    return list(dict.fromkeys(needed))


def _writes(module: str, mapping: ModuleRoute) -> Iterable[str]:
    ops = ["CREATE", "UPDATE", *(["DELETE"] if mapping.delete else [])]
    yield from (s.module_scope(module, op) for op in ops)
    if mapping.notes:
        yield from (s.module_scope("Notes", op) for op in ops)
    if mapping.attachments:
        yield from (s.module_scope("Attachments", op) for op in ("CREATE", "DELETE"))
    if mapping.tags:
        yield from (s.module_scope(module, "WRITE"), s.TAGS_CREATE)


def scope_row(org: str, results: Mapping[str, Any], unproven: list[str]) -> Row:
    """One row per org: FAIL when a read was refused for want of a scope, WARN when a read
    failed otherwise (the scope is then not verified)."""
    by_kind: dict[str, list[str]] = {}
    for scope, result in results.items():
        by_kind.setdefault(_kind(result), []).append(scope)
    parts = [f"proven by a read: {', '.join(by_kind.get('proven', [])) or 'none'}"]
    if by_kind.get("denied"):
        parts.insert(0, "missing: " + _listed(by_kind["denied"], results))
    if by_kind.get("not needed"):
        parts.append("not needed: " + _listed(by_kind["not needed"], results))
    unproven = [*unproven, *(f"{x} ({results[x]})" for x in by_kind.get("unprovable", []))]
    if unproven:
        parts.append(f"not verifiable (a write, or nothing to read): {', '.join(unproven)}")
    if by_kind.get("failed"):
        parts.append("not verified: " + _listed(by_kind["failed"], results))
    result = FAIL if by_kind.get("denied") else WARN if by_kind.get("failed") else OK
    return Row("scopes", org, result, "; ".join(parts))


def _kind(result: Any) -> str:
    from connectors.zoho import errors

    if isinstance(result, errors.OAuthScopeMismatch | errors.NoPermission):
        return "denied"
    if isinstance(result, NotNeeded):
        return "not needed"
    if isinstance(result, Unprovable):
        return "unprovable"
    if isinstance(result, errors.InvalidModule):
        return "module"  # the module check's row says it
    return "failed" if isinstance(result, BaseException) else "proven"


def _listed(names: list[str], results: Mapping[str, Any]) -> str:
    def why(result: Any) -> str:
        return str(getattr(result, "zoho_code", "") or result or type(result).__name__)

    return "; ".join(f"{name} ({why(results[name])})" for name in names)
