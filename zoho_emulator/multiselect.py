"""Multi-select lookups (MxN fields): their rows are records of a linking module.

A field ``Accounts_Linked`` (Contacts → Accounts) holds rows ``{"Accounts": {"name", "id"},
"id": "<linking record id>"}``. Writes follow the subform rules (``subforms.parse`` /
``merge_rows``, reference §16): a row without ``id`` links a record, ``{"id", "_delete": null}``
unlinks it, rows not sent stay (the v8 SDK's update sample sends only those two). A connected
record linked twice keeps its first row. Stored rows: ``{"Accounts": "<id>", "id": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from .schema import FieldDef, ModuleDef
from .store import ModuleStore
from .subforms import SubformWrite, merge_rows


def link_fields(module: ModuleDef) -> list[FieldDef]:
    return [f for f in module.fields.values() if f.data_type == "multiselectlookup"]


def merge_all(
    fields: list[FieldDef],
    values: dict[str, Any],
    stored: Mapping[str, Any],
    new_id: Callable[[], str],
) -> None:
    """Replaces each written field's SubformWrite by the rows after the write."""
    for fd in fields:
        write = values.get(fd.api_name)
        if isinstance(write, SubformWrite):
            key = fd.rows[0].api_name
            rows = merge_rows(
                write, stored.get(fd.api_name), keep_unlisted=True, new_id=new_id, mandatory=[key]
            )
            values[fd.api_name] = _first_per(rows, key)


def _first_per(rows: list[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    seen: set[Any] = set()
    out = []
    for row in rows:
        if row[key] not in seen:
            seen.add(row[key])
            out.append(row)
    return out


def unlink(
    modules: Mapping[str, ModuleDef],
    stores: Mapping[str, ModuleStore],
    module: str,
    ids: Collection[str],
) -> None:
    """Deleting records deletes their linking records: rows pointing to them disappear. The
    records holding the rows are not modified (no Modified_Time, no event)."""
    for holder, fd in _fields_to(modules, module):
        key = fd.rows[0].api_name
        for record in stores[holder].records.values():
            rows = record.values.get(fd.api_name)
            if rows and any(r[key] in ids for r in rows):
                kept = [r for r in rows if r[key] not in ids]
                record.values = {**record.values, fd.api_name: kept}  # never mutated in place


def _fields_to(modules: Mapping[str, ModuleDef], target: str) -> Iterator[tuple[str, FieldDef]]:
    for name, module in modules.items():
        for fd in link_fields(module):
            if fd.lookup_module == target:
                yield name, fd


def field_meta(module: ModuleDef, fd: FieldDef, target: ModuleDef) -> dict[str, Any]:
    """``multiselectlookup`` field metadata in the v8 SDK's MultiSelectLookup shape."""
    linking = f"{module.api_name}_X_{target.api_name}"
    row = fd.rows[0]
    back = {"api_name": module.api_name, "field_label": module.singular, "id": fd.id[:-1] + "9"}
    return {
        "linking_details": {
            "module": {
                "plural_label": linking,
                "api_name": linking,
                "id": fd.id[:-1] + "8",
                "visibility": 1,
            },
            "lookup_field": back,
            "connected_lookup_field": {
                "api_name": row.api_name,
                "field_label": target.singular,
                "id": row.id,
            },
        },
        "connected_details": {
            "module": {
                "plural_label": target.api_name,
                "api_name": target.api_name,
                "id": target.id,
            },
            "field": back,
        },
        "record_access": False,
    }
