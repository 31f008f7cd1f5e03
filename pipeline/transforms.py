"""Pure mapping of one source record into the record orgsync writes to a target org.

`transform(record, module_route, context)` returns a `TargetRecord`, a `Rejected(reason)` (the
record can never be written as configured) or a `MissingParent` (a lookup points to a record
that the target does not have yet; the processor holds the child or fetches the parent).
Everything the mapping needs from the outside world (the target's field metadata, both orgs'
users, the id map) comes in as data through `TransformContext`; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orgsync_kernel.settings import ModuleRoute, Route
from pipeline.content import content_hash

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
# Data types whose values are computed by Zoho or hold org-specific ids we cannot translate.
NOT_COPYABLE_TYPES = frozenset(
    {
        "formula",
        "autonumber",
        "rollup_summary",
        "subform",
        "fileupload",
        "imageupload",
        "profileimage",
        "multiselectlookup",
        "multiuserlookup",
        "multi_module_lookup",
        "consent_lookup",
        "layout",
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
class FieldMeta:
    """What the transform needs to know about one target field (from `/settings/fields`)."""

    api_name: str
    data_type: str = "text"
    read_only: bool = False
    lookup_module: str | None = None

    @classmethod
    def from_zoho(cls, meta: Mapping[str, Any]) -> FieldMeta:
        lookup = meta.get("lookup") or {}
        module = lookup.get("module") if isinstance(lookup, Mapping) else None
        return cls(
            api_name=str(meta["api_name"]),
            data_type=str(meta.get("data_type") or "text"),
            read_only=bool(meta.get("read_only") or meta.get("field_read_only")),
            lookup_module=module.get("api_name") if isinstance(module, Mapping) else None,
        )

    @property
    def writable(self) -> bool:
        return not self.read_only and self.data_type not in NOT_COPYABLE_TYPES


def field_index(fields: Iterable[Mapping[str, Any]]) -> dict[str, FieldMeta]:
    """Index Zoho field metadata (the `fields` list of `/settings/fields`) by API name."""
    return {meta.api_name: meta for meta in map(FieldMeta.from_zoho, fields)}


@dataclass(frozen=True)
class UserDirectory:
    """One org's users: e-mail by user id, and id by lower-cased e-mail for active users."""

    emails_by_id: Mapping[str, str] = field(default_factory=dict)
    ids_by_email: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_users(cls, users: Iterable[Mapping[str, Any]]) -> UserDirectory:
        emails: dict[str, str] = {}
        ids: dict[str, str] = {}
        for user in users:
            user_id, email = user.get("id"), user.get("email")
            if user_id is None or not isinstance(email, str) or not email:
                continue
            emails[str(user_id)] = email.lower()
            if user.get("status", "active") == "active":
                ids.setdefault(email.lower(), str(user_id))
        return cls(emails, ids)

    def email_of(self, user: Any) -> str | None:
        """The e-mail of a user value (`{"id", "name", "email"}`), from the value or by its id."""
        if not isinstance(user, Mapping):
            return None
        email = user.get("email")
        if isinstance(email, str) and email:
            return email.lower()
        return self.emails_by_id.get(str(user.get("id")))

    def id_for(self, email: str | None) -> str | None:
        return self.ids_by_email.get(email.lower()) if email else None


IdResolver = Callable[[str, str], str | None] | Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class TransformContext:
    """Everything one transform reads besides the record and its module's route settings.

    `resolve_id(source_module, source_id)` (or a mapping keyed by that pair) gives the id of the
    corresponding record in the target org. `parent_modules` maps a target module to the source
    module this route syncs into it; a lookup to any other module cannot be translated and is
    left out.
    """

    source_module: str
    target_fields: Mapping[str, FieldMeta]
    source_users: UserDirectory
    target_users: UserDirectory
    resolve_id: IdResolver
    parent_modules: Mapping[str, str]

    @classmethod
    def for_route(
        cls,
        route: Route,
        source_module: str,
        target_fields: Mapping[str, FieldMeta],
        source_users: UserDirectory,
        target_users: UserDirectory,
        resolve_id: IdResolver,
    ) -> TransformContext:
        parents = {route.target_module(module): module for module in route.modules}
        return cls(source_module, target_fields, source_users, target_users, resolve_id, parents)

    def target_id(self, module: str, source_id: str) -> str | None:
        if isinstance(self.resolve_id, Mapping):
            return self.resolve_id.get((module, source_id))
        return self.resolve_id(module, source_id)


@dataclass(frozen=True)
class TargetRecord:
    module: str
    data: dict[str, Any]
    match_field: str
    match_value: Any

    @property
    def content_hash(self) -> str:
        return content_hash(self.data)


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class ParentRef:
    module: str
    source_id: str
    field: str


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
_DROP = object()


def transform(
    record: Mapping[str, Any], route: ModuleRoute, context: TransformContext
) -> TransformResult:
    """Map one source record for one route module; see the module docstring."""
    target_module = route.target_module or context.source_module
    by_source_id = match_uses_source_id(route, target_module)
    data, parents = _map_fields(record, route, context, skip=route.match_field)
    owner = _map_owner(record, route, context)
    if isinstance(owner, Rejected):
        return owner
    if owner is not None:
        data["Owner"] = owner
    match_value = record.get("id") if by_source_id else _natural_key(record, route)
    if match_value is None or match_value == "":
        return Rejected(f"match field {route.match_field} is empty")
    data[route.match_field] = str(match_value) if by_source_id else match_value
    if parents:
        return MissingParent(tuple(parents))
    return TargetRecord(target_module, data, route.match_field, data[route.match_field])


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


FieldPlan = dict[str, tuple[str, FieldMeta] | None]
# Which target field (and its metadata) each source field goes to, or None: the same for every
# record of a route while the target's field metadata is the same object, so decided once.
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
) -> tuple[str, FieldMeta] | None:
    target_field = route.target_field(source_field)
    meta = target_fields.get(target_field)
    if (
        target_field == skip
        or meta is None
        or not meta.writable
        or not (_copyable(source_field) and _copyable(target_field))
    ):
        return None
    return target_field, meta


def _map_fields(
    record: Mapping[str, Any], route: ModuleRoute, context: TransformContext, skip: str
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
        target_field, meta = destination
        value = _map_value(source_field, record[source_field], meta, route, context, parents)
        if value is not _DROP:
            data[target_field] = value
    return data, parents


def _map_value(
    source_field: str,
    value: Any,
    meta: FieldMeta,
    route: ModuleRoute,
    context: TransformContext,
    parents: list[ParentRef],
) -> Any:
    if meta.data_type == "lookup" or source_field in route.lookups:
        return _map_lookup(source_field, value, meta, route, context, parents)
    if value is None:
        return None
    if meta.data_type in ("ownerlookup", "userlookup"):
        user_id = context.target_users.id_for(context.source_users.email_of(value))
        return {"id": user_id} if user_id else _DROP
    return _map_values(value, route.values.get(source_field))


def _map_lookup(
    source_field: str,
    value: Any,
    meta: FieldMeta,
    route: ModuleRoute,
    context: TransformContext,
    parents: list[ParentRef],
) -> Any:
    source_id = value.get("id") if isinstance(value, Mapping) else value
    parent_module = route.lookups.get(source_field) or context.parent_modules.get(
        meta.lookup_module or ""
    )
    if parent_module is None or isinstance(source_id, Mapping | list):
        return _DROP  # a module this route does not sync: its ids mean nothing in the target
    if source_id is None or source_id == "":
        return None
    target_id = context.target_id(parent_module, str(source_id))
    if target_id is None:
        parents.append(ParentRef(parent_module, str(source_id), source_field))
        return _DROP
    return {"id": target_id}


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
