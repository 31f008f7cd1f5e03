"""External ID fields (reference §22; v7 *-records-ext pages): a text field flagged external holds
a record's id in another system.

``X-EXTERNAL: {Module}.{Field}`` names records by that value (GET/PUT/DELETE
``/{Module}/{value}``, ``ids=``, and a PUT body without ``id``); ``{Module}.{Lookup}.{Field}``
(``{Module}.What_Id->{Target}.{Field}``) lets a lookup name its parent by the parent's external
value, ``{Module}.{Subform}.{Lookup}.{Field}`` a line item's. Several paths are comma-separated.
Upsert needs no header: external fields are duplicate-check fields. An org-based value is unique
in the module; a user-based one only among the records its user set, and is found only by that
user (the user whose self client calls: ``clients[].user``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .http import ApiError
from .record_error import RecordError
from .schema import FieldDef, ModuleDef
from .state import OrgState
from .store import ModuleStore

HEADER = "X-EXTERNAL"


@dataclass(frozen=True)
class ExternalPaths:
    """What one request's X-EXTERNAL header names (reference §22)."""

    own: FieldDef | None = None
    lookups: Mapping[str, tuple[str, FieldDef]] = field(default_factory=dict)  # field → target
    rows: Mapping[tuple[str, str], tuple[str, FieldDef]] = field(default_factory=dict)


def meta(fd: FieldDef) -> dict[str, Any] | None:
    """The field metadata's ``external`` key ([oas] fields.json: show, type, allow_multiple_config;
    null for other fields, as the v7 field-meta sample)."""
    if fd.external is None:
        return None
    return {"show": True, "type": fd.external, "allow_multiple_config": False}


def externals(module: ModuleDef) -> tuple[FieldDef, ...]:
    return tuple(fd for fd in module.fields.values() if fd.external)


def paths_of(request: web.Request, org: OrgState, module: str) -> ExternalPaths | None:
    header = request.headers.get(HEADER)
    return None if header is None else parse(header, org, module)


def parse(header: str, org: OrgState, module: str) -> ExternalPaths:
    own: FieldDef | None = None
    lookups: dict[str, tuple[str, FieldDef]] = {}
    rows: dict[tuple[str, str], tuple[str, FieldDef]] = {}
    for item in (part.strip() for part in header.split(",")):
        names = item.split(".")
        if names[0] != module or len(names) not in (2, 3, 4):
            raise _bad_header(item)
        fields = org.modules[module].fields
        if len(names) == 2:
            own = _external(org, module, names[1], item)
        elif len(names) == 3:
            name, target = _lookup(fields.get(names[1].split("->")[0]), names[1], item)
            lookups[name] = (target, _external(org, target, names[2], item))
        else:
            sub = fields.get(names[1])
            row_fields = {f.api_name: f for f in sub.rows} if sub else {}
            name, target = _lookup(row_fields.get(names[2]), names[2], item)
            rows[(names[1], name)] = (target, _external(org, target, names[3], item))
    return ExternalPaths(own, lookups, rows)


def _lookup(fd: FieldDef | None, segment: str, item: str) -> tuple[str, str]:
    """A lookup field and the module its external value is looked for in."""
    name, _, arrow = segment.partition("->")
    if fd is None or fd.data_type != "lookup":
        raise _bad_header(item)
    target = arrow or fd.lookup_module or ""
    if fd.lookup_modules and target not in fd.lookup_modules:
        raise _bad_header(item)
    return name, target


def _external(org: OrgState, module: str, name: str, item: str) -> FieldDef:
    target = org.modules.get(module)
    fd = target.fields.get(name) if target else None
    if fd is None or not fd.external:
        raise _bad_header(item)
    return fd


def _bad_header(item: str) -> ApiError:
    """Not documented: a request-level INVALID_DATA naming the header (UNCONFIRMED)."""
    return ApiError(400, "INVALID_DATA", "invalid data", {"api_name": HEADER, "value": item})


def find(
    org: OrgState,
    store: ModuleStore,
    fd: FieldDef,
    value: Any,
    user_id: str,
    exclude: str | None = None,
) -> str | None:
    """The record holding ``value`` in ``fd``; user-based: among the records ``user_id`` set."""
    for rid in store.bucket(fd.api_name, value):
        if rid == exclude:
            continue
        if fd.external == "org" or org.external_setters.get((rid, fd.api_name)) == user_id:
            return rid
    return None


def remember(
    org: OrgState,
    rid: str,
    fields: Iterable[FieldDef],
    values: Mapping[str, Any],
    previous: Mapping[str, Any],
    user_id: str,
) -> None:
    """Who set each external value that this write set (user-based fields are per user)."""
    for fd in fields:
        if values.get(fd.api_name) != previous.get(fd.api_name):
            org.external_setters[(rid, fd.api_name)] = user_id


def resolve(paths: ExternalPaths, org: OrgState, raw: Any, i: int, user_id: str) -> Any:
    """The record with its lookups (and line-item lookups) named by external value turned into
    ``{"id"}``; with the header the external value wins over a given id (reference §22)."""
    if not isinstance(raw, dict) or not (paths.lookups or paths.rows):
        return raw
    out = dict(raw)
    for name, (target, fd) in paths.lookups.items():
        out[name] = _parent(org, out.get(name), target, fd, user_id, f"$.data[{i}].{name}")
    for (sub, name), (target, fd) in paths.rows.items():
        rows = out.get(sub)
        if isinstance(rows, list):
            out[sub] = [
                _row(org, row, name, target, fd, user_id, f"$.data[{i}].{sub}[{j}].{name}")
                for j, row in enumerate(rows)
            ]
    return out


def _row(
    org: OrgState, row: Any, name: str, target: str, fd: FieldDef, user_id: str, path: str
) -> Any:
    if not isinstance(row, dict) or name not in row:
        return row
    return {**row, name: _parent(org, row[name], target, fd, user_id, path)}


def _parent(org: OrgState, value: Any, target: str, fd: FieldDef, user_id: str, path: str) -> Any:
    if not isinstance(value, dict) or fd.api_name not in value:
        return value  # named by id as usual
    found = find(org, org.stores[target], fd, value[fd.api_name], user_id)
    if found is None:
        raise RecordError(
            "INVALID_DATA",
            "the external id given seems to be invalid",
            {"api_name": fd.api_name, "json_path": f"{path}.{fd.api_name}"},
        )
    return {"id": found}


def unknown_value(fd: FieldDef, value: Any, i: int | None = None) -> RecordError:
    """A PUT/DELETE naming a record by an external value nobody holds (delete-records-ext page:
    INVALID_DATA; message and details UNCONFIRMED)."""
    details: dict[str, Any] = {"api_name": fd.api_name, fd.api_name: value}
    if i is not None:
        details["json_path"] = f"$.data[{i}].{fd.api_name}"
    return RecordError("INVALID_DATA", "the external id given seems to be invalid", details)


def acting_user(org: OrgState, client_id: str) -> str:
    return org.client_users.get(client_id, org.api_user).id


def show_own(paths: ExternalPaths | None, store: ModuleStore, entry: dict[str, Any]) -> None:
    """Success details name the record's external value too (update/delete-records-ext samples)."""
    if paths is None or paths.own is None or entry["status"] != "success":
        return
    record = store.records.get(entry["details"]["id"])
    name = paths.own.api_name
    value = record.values.get(name) if record else entry["details"].get(name)
    entry["details"] = {name: value, **entry["details"]}
