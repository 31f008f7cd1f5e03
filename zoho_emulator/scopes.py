"""OAuth scopes: what each endpoint accepts, and whether a token's grant covers it.

A scope is ``Service.name[.sub].OPERATION`` (``ZohoCRM.modules.leads.READ``). A granted scope
covers a needed one when the service matches, the granted names are a prefix of the needed ones
(``ZohoCRM.modules.ALL`` covers ``ZohoCRM.modules.leads.*``, ``ZohoCRM.settings.ALL`` covers
``ZohoCRM.settings.fields.*``) and its operation is ``ALL`` or one the endpoint accepts. Zoho's
pages spell scopes in either case (``ZohoCRM.bulk.read``, ``ZohoCRM.modules.all``): compared
without case. Each endpoint's accepted operations are its page's "Possible operation types"
(README, *OAuth scopes*). A token without a scope list (``Grant`` None) may call everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from .http import ApiError

READ = frozenset({"read"})
CREATE = frozenset({"write", "create"})
UPDATE = frozenset({"write", "update"})
DELETE = frozenset({"delete"})
WRITE_OR_DELETE = frozenset({"write", "delete"})
WRITE = frozenset({"write"})
_BY_METHOD = {"GET": READ, "POST": CREATE, "PUT": UPDATE, "PATCH": UPDATE, "DELETE": DELETE}
_SEARCH = ("zohosearch", "securesearch")
SETTINGS_LISTS = frozenset({"modules", "fields", "layouts", "related_lists"})


@dataclass(frozen=True, slots=True)
class Need:
    """One scope an endpoint accepts: ``names`` (service first) with the operations that serve."""

    names: tuple[str, ...]
    ops: frozenset[str]

    def __str__(self) -> str:
        return ".".join(self.names) + "." + "|".join(sorted(self.ops | {"all"}))


# Every group must be met by one of its needs: ((a, b), (c,)) = (a or b) and c.
Requirement = tuple[tuple[Need, ...], ...]


def need(names: str, ops: frozenset[str]) -> Need:
    return Need(tuple(names.lower().split(".")), ops)


class Grant:
    """The scopes a refresh token (and every access token made from it) was granted."""

    def __init__(self, scopes: Iterable[str]) -> None:
        self.scopes = tuple(scopes)
        self._parsed = tuple(_split(s) for s in self.scopes)

    def covers(self, wanted: Need) -> bool:
        return any(
            names == wanted.names[: len(names)] and (op == "all" or op in wanted.ops)
            for names, op in self._parsed
        )

    def meets(self, requirement: Requirement) -> bool:
        return all(any(self.covers(n) for n in group) for group in requirement)


def _split(scope: str) -> tuple[tuple[str, ...], str]:
    *names, op = scope.lower().split(".")
    return tuple(names), op


def valid_scope(scope: str) -> bool:
    """``Service.name.OPERATION`` at least, no empty part."""
    parts = scope.split(".")
    return len(parts) >= 3 and all(parts)


def scope_mismatch() -> ApiError:
    """HTTP 401 (v7/v8 pages' "Possible Errors"; body as the [oas] examples)."""
    return ApiError(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", {})


class ModuleLike(Protocol):
    @property
    def api_name(self) -> str: ...

    @property
    def custom(self) -> bool: ...


def module_scope(module: ModuleLike | None, segment: str) -> str:
    """``leads``, ``pricebooks``, ``salesorders``; every custom module is ``custom``."""
    if module is not None and module.custom:
        return "custom"
    name = module.api_name if module is not None else segment
    return name.lower().replace("_", "")


def module_need(scope_name: str, ops: frozenset[str]) -> Need:
    return Need(("zohocrm", "modules", scope_name), ops)


def required(method: str, parts: Sequence[str], modules: Mapping[str, ModuleLike]) -> Requirement:
    """What ``/crm/{v}/{parts…}`` needs (module-level checks of COQL and Bulk Read are in their
    handlers: the module is in the body)."""
    if not parts:
        return ()
    head = parts[0]
    ops = _BY_METHOD.get(method, READ)
    if head == "coql":
        return ((need("ZohoCRM.coql", READ),),)
    if head == "org":
        return _org(method, parts)
    if head == "users":
        return ((need("ZohoCRM.users", ops),),)
    if head == "settings":
        return _settings(method, parts)
    if head == "actions":
        return ((need("ZohoCRM.notifications", ops),),)
    scope = module_scope(modules.get(head), head)
    return _records(method, parts, scope)


def _org(method: str, parts: Sequence[str]) -> Requirement:
    if len(parts) == 1:
        return ((need("ZohoCRM.org", READ),),)
    # currencies: v7 get/add/update-currencies and enable-multi-currency pages
    return ((need("ZohoCRM.settings.currencies", _BY_METHOD.get(method, READ) - WRITE),),)


def _settings(method: str, parts: Sequence[str]) -> Requirement:
    kind = parts[1] if len(parts) > 1 else ""
    if kind == "tags":
        ops = WRITE_OR_DELETE if method == "DELETE" else _BY_METHOD.get(method, READ)
        return ((need("ZohoCRM.settings.tags", ops),),)
    if kind in SETTINGS_LISTS:
        return ((need(f"ZohoCRM.settings.{kind}", READ),),)
    return ((need("ZohoCRM.settings", READ),),)


def _records(method: str, parts: Sequence[str], scope: str) -> Requirement:
    ops = _BY_METHOD.get(method, READ)
    own = module_need(scope, ops)
    rest = parts[1:]
    if rest[-2:] == ["actions", "add_tags"] or rest[-2:] == ["actions", "remove_tags"]:
        tagging = CREATE if rest[-1] == "add_tags" else WRITE
        return ((module_need(scope, tagging),),)
    if rest == ["upsert"]:
        return ((module_need(scope, CREATE),),)
    if rest == ["search"]:
        return ((module_need(scope, READ),), (Need(_SEARCH, READ),))
    if rest == ["actions", "count"]:
        layouts = (need("ZohoCRM.settings.layouts", READ),)
        return ((module_need(scope, READ),), (Need(_SEARCH, READ),), layouts)
    if len(rest) >= 2:
        return _related(method, rest[1], scope)
    return ((own,),)


def _related(method: str, related: str, scope: str) -> Requirement:
    ops = _BY_METHOD.get(method, READ)
    if related in ("Notes", "Attachments"):
        if method == "DELETE" and related == "Notes":
            ops = WRITE_OR_DELETE
        kind = related.lower()
        return ((module_need(scope, ops),), (module_need(kind, ops),))
    if method == "DELETE":
        ops = WRITE_OR_DELETE
    return ((module_need(scope, ops),),)


GRANT = web.RequestKey("zoho_emulator.grant", Grant)


def demand(request: web.Request, requirement: Requirement) -> None:
    """Raise OAUTH_SCOPE_MISMATCH unless the request's token meets ``requirement``."""
    grant = request.get(GRANT)
    if grant is not None and not grant.meets(requirement):
        raise scope_mismatch()
