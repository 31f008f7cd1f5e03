"""Lookups translated through the id map: plain ones, polymorphic ones and subform rows.

A lookup whose parent is not in the target yet adds a `ParentRef` and is left out (the
transform then answers `MissingParent`); a lookup to a module the route does not sync is left
out (`DROP`): its ids mean nothing in the target. Pure functions over `TransformContext`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orgsync_kernel.settings import ModuleRoute
from pipeline.mapping.context import FieldMeta, TransformContext

DROP: Any = object()
SE_MODULE = "$se_module"  # where an activity's What_Id names its module (reference §19)
ROW_ID = "$row"  # a mapped subform row's source row id; the sink swaps it for the target's
_LINE_TAX_KEYS = ("name", "percentage")  # a tax's "value" is computed by Zoho


@dataclass(frozen=True)
class ParentRef:
    module: str
    source_id: str
    field: str


@dataclass(frozen=True)
class Polymorphic:
    """A translated polymorphic lookup; `se_module`: the target module to send beside it."""

    value: dict[str, Any]
    se_module: str | None


def translate(
    parent_module: str | None,
    value: Any,
    field_name: str,
    context: TransformContext,
    parents: list[ParentRef],
) -> Any:
    """`{"id": <target id>}` for a lookup value to a record of `parent_module` (a source module)."""
    source_id = value.get("id") if isinstance(value, Mapping) else value
    if parent_module is None or isinstance(source_id, Mapping | list):
        return DROP
    if source_id is None or source_id == "":
        return None
    target_id = context.target_id(parent_module, str(source_id))
    if target_id is None:
        parents.append(ParentRef(parent_module, str(source_id), field_name))
        return DROP
    return {"id": target_id}


def map_lookup(
    source_field: str,
    value: Any,
    record: Mapping[str, Any],
    meta: FieldMeta,
    route: ModuleRoute,
    context: TransformContext,
    parents: list[ParentRef],
) -> Any:
    if meta.lookup_modules:
        return _polymorphic(source_field, value, record, meta, context, parents)
    parent_module = route.lookups.get(source_field) or context.parent_modules.get(
        meta.lookup_module or ""
    )
    return translate(parent_module, value, source_field, context, parents)


def _polymorphic(
    source_field: str,
    value: Any,
    record: Mapping[str, Any],
    meta: FieldMeta,
    context: TransformContext,
    parents: list[ParentRef],
) -> Any:
    """What_Id (its module in the record's `$se_module`) or Parent_Id (module in the value)."""
    if value is None or value == "":
        return None
    in_value = isinstance(value, Mapping) and isinstance(value.get("module"), Mapping)
    source_module = value["module"].get("api_name") if in_value else record.get(SE_MODULE)
    target_module = context.target_modules.get(str(source_module))
    allowed = "*" in meta.lookup_modules or target_module in meta.lookup_modules
    if target_module is None or not allowed:
        return DROP
    found = translate(str(source_module), value, source_field, context, parents)
    if not isinstance(found, dict):
        return found
    if in_value:
        return Polymorphic({"module": {"api_name": target_module}, **found}, None)
    return Polymorphic(found, target_module)


def map_rows(
    source_field: str,
    rows: Any,
    row_fields: Mapping[str, FieldMeta] | None,
    context: TransformContext,
    parents: list[ParentRef],
) -> Any:
    """A subform's rows with their writable fields, lookups translated, each with its source
    row id under `ROW_ID`; left out when the target's row fields are unknown."""
    if not row_fields:
        return DROP
    mapped = []
    for i, row in enumerate(rows or ()):
        if not isinstance(row, Mapping):
            continue
        out = _map_row(row, row_fields, f"{source_field}[{i}]", context, parents)
        if row.get("id") is not None:
            out[ROW_ID] = str(row["id"])
        mapped.append(out)
    return mapped


def _map_row(
    row: Mapping[str, Any],
    row_fields: Mapping[str, FieldMeta],
    path: str,
    context: TransformContext,
    parents: list[ParentRef],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        meta = row_fields.get(name)
        if meta is None or not meta.writable or name == "id" or name.startswith("$"):
            continue
        if meta.data_type == "lookup":
            parent_module = context.parent_modules.get(meta.lookup_module or "")
            value = translate(parent_module, value, f"{path}.{name}", context, parents)
        elif meta.data_type == "linetax" and isinstance(value, list):
            value = [
                {key: tax.get(key) for key in _LINE_TAX_KEYS}
                for tax in value
                if isinstance(tax, Mapping)
            ]
        if value is not DROP:
            out[name] = value
    return out
