"""Pure mapping of one source record into the record orgsync writes to a target org.

`transform(record, module_route, context)` returns a `TargetRecord`, a `Rejected(reason)` (the
record can never be written as configured) or a `MissingParent` (a lookup points to a record
that the target does not have yet; the processor holds the child or fetches the parent).
Everything the mapping needs from the outside world (the target's field metadata, both orgs'
users, the id map) comes in as data through `TransformContext`; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orgsync_kernel.settings import ModuleRoute
from pipeline.mapping.content import content_hash
from pipeline.mapping.context import (
    NOT_COPYABLE_TYPES,
    FieldIndex,
    FieldMeta,
    IdResolver,
    TransformContext,
    UserDirectory,
    field_index,
)
from pipeline.mapping.lookups import DROP, SE_MODULE, ParentRef, Polymorphic, map_lookup, map_rows
from pipeline.mapping.money import settle_currency

__all__ = [
    "NOT_COPYABLE_TYPES",
    "SYSTEM_FIELDS",
    "SYSTEM_UNIQUE_FIELDS",
    "FieldIndex",
    "FieldMeta",
    "IdResolver",
    "MissingParent",
    "ParentRef",
    "Rejected",
    "TargetRecord",
    "TransformContext",
    "UserDirectory",
    "field_index",
    "match_uses_source_id",
    "transform",
]

# Never copied between orgs, whatever the metadata says (reference section 3).
SYSTEM_FIELDS = frozenset(
    {
        "id",
        "Owner",
        "Created_By",
        "Created_Time",
        "Modified_By",
        "Modified_Time",
        "Last_Activity_Time",
        "Full_Name",
        "Record_Status__s",
        "Locked__s",
        "Converted__s",
        "Converted_Date_Time",
        "Converted_Account",
        "Converted_Contact",
        "Converted_Deal",
        "Lead_Conversion_Time",
        "Enrich_Status__s",
        "Last_Enriched_Time__s",
        "Layout",
        "Tag",
        "Unsubscribed_Time",
        "Data_Processing_Basis_Details",
    }
)
# The field Zoho itself checks for duplicates per module (reference section 2.3): a natural key.
SYSTEM_UNIQUE_FIELDS: Mapping[str, str] = {
    "Leads": "Email",
    "Contacts": "Email",
    "Accounts": "Account_Name",
    "Deals": "Deal_Name",
    "Campaigns": "Campaign_Name",
    "Cases": "Subject",
    "Solutions": "Solution_Title",
    "Products": "Product_Name",
    "Vendors": "Vendor_Name",
    "Price_Books": "Price_Book_Name",
    "Quotes": "Subject",
    "Sales_Orders": "Subject",
    "Purchase_Orders": "Subject",
    "Invoices": "Subject",
}
_NATURAL_EVERYWHERE = frozenset({"Email", "Name"})


@dataclass(frozen=True)
class TargetRecord:
    module: str
    data: dict[str, Any]
    match_field: str
    match_value: Any
    dropped: tuple[str, ...] = ()  # lookup fields left out (module not synced, user missing)

    @property
    def content_hash(self) -> str:
        return content_hash(self.data)


@dataclass(frozen=True)
class Rejected:
    reason: str
    code: str = "REJECTED"  # the dead letter's code


@dataclass(frozen=True)
class MissingParent:
    """Lookups whose parent records are not (yet) in the target; `module`/`source_id`: the first."""

    parents: tuple[ParentRef, ...]

    @property
    def module(self) -> str:
        return self.parents[0].module

    @property
    def source_id(self) -> str:
        return self.parents[0].source_id


TransformResult = TargetRecord | Rejected | MissingParent


def transform(
    record: Mapping[str, Any], route: ModuleRoute, context: TransformContext
) -> TransformResult:
    """Map one source record for one route module; see the module docstring."""
    target_module = route.target_module or context.source_module
    by_source_id = match_uses_source_id(route, target_module)
    dropped: list[str] = []
    data, parents = _map_fields(record, route, context, route.match_field, dropped)
    owner = _map_owner(record, route, context)
    if isinstance(owner, Rejected):
        return owner
    if owner is not None:
        data["Owner"] = owner
    match_value = record.get("id") if by_source_id else _natural_key(record, route)
    if match_value is None or match_value == "":
        return Rejected(f"match field {route.match_field} is empty")
    data[route.match_field] = str(match_value) if by_source_id else match_value
    if context.currency is not None:
        problem = settle_currency(record, data, context.currency)
        if problem is not None:
            return Rejected(problem.message, problem.code)
    if parents:
        return MissingParent(tuple(parents))
    match_value = data[route.match_field]
    return TargetRecord(target_module, data, route.match_field, match_value, tuple(dropped))


def match_uses_source_id(route: ModuleRoute, target_module: str) -> bool:
    """True when the match field is an external-id field that holds the source record id.

    `match_value: auto` treats the field as a natural key when it is Zoho's duplicate-check
    field for the module, `Email` or `Name`, or a field the route lists or renames into.
    """
    if route.match_value != "auto":
        return route.match_value == "source_id"
    mapped = {route.target_field(name) for name in route.fields or ()} | set(route.rename.values())
    natural = _NATURAL_EVERYWHERE | {SYSTEM_UNIQUE_FIELDS.get(target_module, "Name")} | mapped
    return route.match_field not in natural


def _natural_key(record: Mapping[str, Any], route: ModuleRoute) -> Any:
    renamed_from = [src for src, dst in route.rename.items() if dst == route.match_field]
    return record.get(renamed_from[0] if renamed_from else route.match_field)


def _copyable(name: str) -> bool:
    return not name.startswith("$") and name not in SYSTEM_FIELDS


FieldPlan = dict[str, tuple[str, FieldMeta, bool] | None]
# Which target field (its metadata, and whether the value is copied as it is) each source field
# goes to, or None: the same for every record of a route while the target's field metadata is
# the same object, so decided once.
_FIELD_PLANS: dict[
    tuple[int, int, str], tuple[ModuleRoute, Mapping[str, FieldMeta], FieldPlan]
] = {}


def _field_plan(route: ModuleRoute, target_fields: Mapping[str, FieldMeta], skip: str) -> FieldPlan:
    key = (id(route), id(target_fields), skip)
    found = _FIELD_PLANS.get(key)
    if found is None or found[0] is not route or found[1] is not target_fields:
        if len(_FIELD_PLANS) >= 1024:
            _FIELD_PLANS.clear()
        found = _FIELD_PLANS[key] = (route, target_fields, {})
    return found[2]


def _destination(
    source_field: str, route: ModuleRoute, target_fields: Mapping[str, FieldMeta], skip: str
) -> tuple[str, FieldMeta, bool] | None:
    target_field = route.target_field(source_field)
    meta = target_fields.get(target_field)
    if (
        target_field == skip
        or meta is None
        or not meta.writable
        or not (_copyable(source_field) and _copyable(target_field))
    ):
        return None
    as_is = (
        meta.data_type not in _MAPPED_TYPES
        and source_field not in route.lookups
        and not route.values.get(source_field)
    )
    return target_field, meta, as_is


_LOOKUPS = frozenset({"lookup", "userlookup", "ownerlookup"})
# The types whose values `_map_value` maps (the others are copied unless the route maps them).
_MAPPED_TYPES = _LOOKUPS | {"subform", "multiselectlookup"}


def _map_fields(
    record: Mapping[str, Any],
    route: ModuleRoute,
    context: TransformContext,
    skip: str,
    dropped: list[str],
) -> tuple[dict[str, Any], list[ParentRef]]:
    names = route.fields if route.fields is not None else record.keys()
    plan = _field_plan(route, context.target_fields, skip)
    data: dict[str, Any] = {}
    parents: list[ParentRef] = []
    for source_field in names:
        if source_field not in record:
            continue
        try:
            destination = plan[source_field]
        except KeyError:
            destination = plan[source_field] = _destination(
                source_field, route, context.target_fields, skip
            )
        if destination is None:
            continue
        target_field, meta, as_is = destination
        if as_is:  # most fields: what `_map_value` would return, without the call
            data[target_field] = record[source_field]
            continue
        value = _map_value(source_field, record, meta, route, context, parents)
        if isinstance(value, Polymorphic):
            data[target_field] = value.value
            if value.se_module:
                data[SE_MODULE] = value.se_module
        elif value is not DROP:
            data[target_field] = value
        elif meta.data_type in _LOOKUPS and record[source_field] not in (None, ""):
            dropped.append(source_field)
    return data, parents


def _map_value(
    source_field: str,
    record: Mapping[str, Any],
    meta: FieldMeta,
    route: ModuleRoute,
    context: TransformContext,
    parents: list[ParentRef],
) -> Any:
    value = record[source_field]
    if meta.data_type == "lookup" or source_field in route.lookups:
        return map_lookup(source_field, value, record, meta, route, context, parents)
    if meta.data_type == "subform":
        rows = context.row_fields.get(meta.api_name)
        return map_rows(source_field, value, rows, context, parents)
    if meta.data_type == "multiselectlookup":
        return map_rows(source_field, value, meta.lookup_rows, context, parents)
    if value is None:
        return None
    if meta.data_type in ("ownerlookup", "userlookup"):
        user_id = context.target_users.id_for(context.source_users.email_of(value))
        return {"id": user_id} if user_id else DROP
    return _map_values(value, route.values.get(source_field))


def _map_values(value: Any, mapping: Mapping[str, str] | None) -> Any:
    if not mapping:
        return value
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [mapping.get(item, item) if isinstance(item, str) else item for item in value]
    return value


def _map_owner(
    record: Mapping[str, Any], route: ModuleRoute, context: TransformContext
) -> dict[str, str] | Rejected | None:
    if route.owner is None:
        return None
    email = context.source_users.email_of(record.get("Owner"))
    default = route.owner.default
    user_id = context.target_users.id_for(email) or context.target_users.id_for(default)
    if user_id is None:
        return Rejected(
            f"owner {email or '(none)'} is not an active user of the target org "
            f"and the default owner {default or '(not set)'} is not either"
        )
    return {"id": user_id}
