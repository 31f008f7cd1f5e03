"""`orgsync check`, per route and module (orgsync/commands/check.py runs it): the module exists
in both orgs, the configured fields exist, the match field is something Zoho upserts on, the
`link_existing` keys exist in the target, and the default owner is a target user."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from orgsync_kernel.settings import ModuleRoute, Route

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"
Fields = dict[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Row:
    check: str
    subject: str
    result: str
    detail: str


class Orgs(Protocol):
    """What the checks read of the orgs (cached by `check.Orgs`)."""

    unusable: dict[str, str]

    async def fields(self, org: str, module: str) -> Fields: ...

    async def users(self, org: str) -> list[dict[str, Any]]: ...


async def check_module(orgs: Orgs, route: Route, module: str) -> list[Row]:
    from connectors.zoho import ZohoError

    target_module = route.target_module(module)
    subject = f"{route.name}/{module}" + (f"->{target_module}" if target_module != module else "")
    blocked = [
        f"org {o}: {orgs.unusable[o]}" for o in (route.source, route.target) if o in orgs.unusable
    ]
    if blocked:
        return [Row("module", subject, SKIP, "; ".join(blocked))]
    found: list[Fields] = []
    for org, name in ((route.source, module), (route.target, target_module)):
        try:
            found.append(await orgs.fields(org, name))
        except ZohoError as error:
            return [Row("module", subject, FAIL, _module_problem(error, org, name))]
    source, target = found
    mapping = route.modules[module]
    rows = [
        Row(
            "module",
            subject,
            OK,
            f"{module} in {route.source} ({len(source)} fields), "
            f"{target_module} in {route.target} ({len(target)} fields)",
        ),
        Row("fields", subject, *_fields_result(mapping, route, source, target)),
        Row("match_field", subject, *_match_result(mapping, route, module, source, target)),
    ]
    if mapping.link_existing:
        rows.append(Row("link_existing", subject, *_link_result(mapping, route, target)))
    if mapping.owner is not None:
        rows.append(Row("owner", subject, *await _owner_result(orgs, route, mapping)))
    return rows


def _link_result(mapping: ModuleRoute, route: Route, target: Fields) -> tuple[str, str]:
    """The keys must be target fields; the one the query selects on must be allowed in a
    COQL WHERE (not a multi-line text)."""
    missing = [name for name in mapping.link_existing if name not in target]
    if missing:
        return FAIL, f"missing in {route.target}: {', '.join(missing)}"
    kinds = {name: str(target[name].get("data_type")) for name in mapping.link_existing}
    if all(kind == "phone" for kind in kinds.values()):
        return WARN, "a phone-only key finds target phones written exactly as in the source only"
    if any(kind == "textarea" for kind in kinds.values()):
        return FAIL, "a multi-line text field cannot be searched (COQL): pick another key"
    return (
        OK,
        f"{', '.join(mapping.link_existing)} exist in {route.target} (one COQL query per batch)",
    )


def _module_problem(error: Exception, org: str, module: str) -> str:
    from connectors.zoho import errors

    if isinstance(error, errors.InvalidModule):
        return f"module {module} does not exist in {org} (or is not available to the API)"
    return f"cannot read the fields of {org}.{module}: {error}"


def _fields_result(
    mapping: ModuleRoute, route: Route, source: Fields, target: Fields
) -> tuple[str, str]:
    unfilled = _unfilled_mandatory(mapping, source, target)
    if mapping.fields is None:
        lacking = sorted(n for n in source if n not in target and _copied(n))
        if unfilled:
            return WARN, f"mandatory in {route.target} but not copied: {', '.join(unfilled)}"
        if lacking:
            return WARN, f"not in {route.target}, so not synced: {', '.join(lacking)}"
        return OK, (
            f"all fields: the {len(source)} source fields that {route.target} "
            f"also has ({len(set(source) & set(target))} by name)"
        )
    missing_source = [
        _renamed(f, source, target.get(mapping.target_field(f)))
        for f in mapping.fields
        if f not in source
    ]
    missing_target = [
        _renamed(mapping.target_field(f), target, source.get(f))
        for f in mapping.fields
        if mapping.target_field(f) not in target
    ]
    read_only = [
        name for f in mapping.fields if _read_only(target.get(name := mapping.target_field(f)))
    ]
    problems = [
        f"missing in {org}: {', '.join(names)}"
        for org, names in ((route.source, missing_source), (route.target, missing_target))
        if names
    ]
    if problems:
        return FAIL, "; ".join(problems)
    if read_only:
        return WARN, f"read-only in {route.target}, never written: {', '.join(read_only)}"
    if unfilled:
        return WARN, f"mandatory in {route.target} but not copied: {', '.join(unfilled)}"
    return OK, f"{len(mapping.fields)} fields exist in both orgs"


def _renamed(name: str, fields: Fields, other: Mapping[str, Any] | None) -> str:
    """`name`, and the field that is most likely it under a new API name: the same field id
    as the other org's field of that name (orgs copied from one another, a sandbox), else the
    same label (Zoho keeps the label when an API name is changed)."""
    found = _same_id(fields, other) or _same_label(fields, name, other)
    return f"{name} (renamed to {found}?)" if found else name


def _same_id(fields: Fields, other: Mapping[str, Any] | None) -> str | None:
    wanted = other.get("id") if other else None
    return next((n for n, meta in fields.items() if wanted and meta.get("id") == wanted), None)


def _same_label(fields: Fields, name: str, other: Mapping[str, Any] | None) -> str | None:
    labels = {name.replace("_", " ").casefold()}
    if other and other.get("field_label"):
        labels.add(str(other["field_label"]).strip().casefold())
    found = [
        n
        for n, meta in fields.items()
        if str(meta.get("field_label", "")).strip().casefold() in labels
    ]
    return found[0] if len(found) == 1 else None


def _copied(name: str) -> bool:
    from pipeline.mapping.transforms import SYSTEM_FIELDS

    return not name.startswith("$") and name not in SYSTEM_FIELDS


def _unfilled_mandatory(mapping: ModuleRoute, source: Fields, target: Fields) -> list[str]:
    """Target fields Zoho requires that the route never writes: every new record is refused
    (a field made mandatory after the sync started shows up here)."""
    names = mapping.fields if mapping.fields is not None else [n for n in source if _copied(n)]
    written = {mapping.target_field(n) for n in names} | {mapping.match_field}
    return sorted(
        name
        for name, meta in target.items()
        if (meta.get("system_mandatory") or meta.get("mandatory")) and name not in written
    )


def _read_only(meta: Mapping[str, Any] | None) -> bool:
    return bool(meta and (meta.get("read_only") or meta.get("field_read_only")))


def _match_result(
    mapping: ModuleRoute, route: Route, module: str, source: Fields, target: Fields
) -> tuple[str, str]:
    from pipeline.mapping.transforms import SYSTEM_UNIQUE_FIELDS, match_uses_source_id

    target_module = route.target_module(module)
    name, where = mapping.match_field, f"{route.target}.{target_module}"
    meta = target.get(name)
    if meta is None:
        return FAIL, (
            f"{name} does not exist in {where}: create it as a unique single-line "
            f"field (see docs/zoho-setup.md)"
        )
    by_source_id = match_uses_source_id(mapping, target_module)
    origin = [src for src, dst in mapping.rename.items() if dst == name] or [name]
    if not by_source_id and origin[0] not in source:
        return FAIL, (
            f"{name} is copied from {route.source}.{module}.{origin[0]}, which does not exist"
        )
    holds = "the source record id" if by_source_id else f"the source's {origin[0]}"
    if meta.get("unique"):
        return OK, f"{name} exists in {where}, is unique, holds {holds}"
    duplicate_check = SYSTEM_UNIQUE_FIELDS.get(target_module, "Name")
    if name == duplicate_check:
        return WARN, (
            f"{name} is Zoho's duplicate-check field of {target_module}: upserts match "
            f"on it, but Zoho does not refuse duplicates in it; mark it 'Do not allow "
            f"duplicate values' to be sure one record matches"
        )
    return FAIL, (
        f"{name} in {where} is not unique: Zoho upserts only on unique fields or "
        f"{target_module}'s duplicate-check field ({duplicate_check}); edit the field "
        f"and tick 'Do not allow duplicate values'"
    )


async def _owner_result(orgs: Orgs, route: Route, mapping: ModuleRoute) -> tuple[str, str]:
    from connectors.zoho import ZohoError

    assert mapping.owner is not None
    default = mapping.owner.default
    if default is None:
        return OK, "owners mapped by e-mail; no default owner (unmatched owners go to the DLQ)"
    try:
        users = await orgs.users(route.target)
    except ZohoError as error:
        return FAIL, f"cannot list the users of {route.target}: {error}"
    active = {str(u.get("email", "")).lower() for u in users if u.get("status") == "active"}
    if default.lower() in active:
        return OK, f"default owner {default} is an active user of {route.target}"
    return FAIL, f"default owner {default} is not an active user of {route.target}"
