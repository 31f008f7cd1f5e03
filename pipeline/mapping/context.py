"""What a transform reads besides the record: the target's fields, both orgs' users, the id map.

All of it is plain data handed in by the processor (`TransformContext`), so that
`pipeline/mapping/transforms.py` stays pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from orgsync_kernel.settings import Route
from pipeline.mapping.money import Amounts, CurrencyRule, MoneyUnknown, OrgMoney, Rates

# Data types whose values are computed by Zoho or hold org-specific ids we cannot translate.
NOT_COPYABLE_TYPES = frozenset(
    {
        "formula",
        "autonumber",
        "rollup_summary",
        "fileupload",
        "imageupload",
        "profileimage",
        "multiuserlookup",
        "consent_lookup",
        "layout",
    }
)


@dataclass(frozen=True)
class FieldMeta:
    """What the transform needs to know about one target field (from `/settings/fields`)."""

    api_name: str
    data_type: str = "text"
    read_only: bool = False
    lookup_module: str | None = None
    # a polymorphic lookup (What_Id, Parent_Id): the modules it may point to ("*": any)
    lookup_modules: tuple[str, ...] = ()
    # a subform: the module whose fields its rows have (e.g. Quoted_Items)
    row_module: str | None = None
    # a multi-select lookup: its rows' lookup field and the module it points to
    row_lookup: tuple[str, str] | None = None

    @classmethod
    def from_zoho(cls, meta: Mapping[str, Any]) -> FieldMeta:
        lookup = meta.get("lookup") or {}
        module = lookup.get("module") if isinstance(lookup, Mapping) else None
        rows = meta.get("associated_module")
        return cls(
            api_name=str(meta["api_name"]),
            data_type=str(meta.get("data_type") or "text"),
            read_only=bool(meta.get("read_only") or meta.get("field_read_only")),
            lookup_module=module.get("api_name") if isinstance(module, Mapping) else None,
            lookup_modules=tuple(
                str(m.get("api_name")) for m in module or () if isinstance(m, Mapping)
            )
            if isinstance(module, list)
            else (),
            row_module=str(rows["module"])
            if isinstance(rows, Mapping) and rows.get("module")
            else None,
            row_lookup=_row_lookup(meta.get("multiselectlookup")),
        )

    @cached_property
    def lookup_rows(self) -> dict[str, FieldMeta]:
        """A multi-select lookup's rows as a subform of one lookup field."""
        if self.row_lookup is None:
            return {}
        name, module = self.row_lookup
        return {name: FieldMeta(name, "lookup", lookup_module=module)}

    @property
    def writable(self) -> bool:
        return not self.read_only and self.data_type not in NOT_COPYABLE_TYPES


def _row_lookup(meta: Any) -> tuple[str, str] | None:
    """(row field, connected module) of v8 `multiselectlookup` metadata."""
    try:
        field_name = meta["linking_details"]["connected_lookup_field"]["api_name"]
        return str(field_name), str(meta["connected_details"]["module"]["api_name"])
    except (KeyError, TypeError):
        return None


class FieldIndex(dict[str, FieldMeta]):
    """A module's fields by API name, its subforms and its currency fields (decided once per
    metadata fetch)."""

    subforms: tuple[FieldMeta, ...] = ()
    money: frozenset[str] = frozenset()


def field_index(fields: Iterable[Mapping[str, Any]]) -> FieldIndex:
    """Index Zoho field metadata (the `fields` list of `/settings/fields`) by API name."""
    index = FieldIndex((meta.api_name, meta) for meta in map(FieldMeta.from_zoho, fields))
    index.subforms = tuple(meta for meta in index.values() if meta.row_module)
    index.money = frozenset(name for name, meta in index.items() if meta.data_type == "currency")
    return index


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
    module this route syncs into it (`target_modules` the other way); a lookup to any other
    module cannot be translated and is left out. `row_fields`: the target's row fields of each
    subform (by the subform's target field name).
    """

    source_module: str
    target_fields: Mapping[str, FieldMeta]
    source_users: UserDirectory
    target_users: UserDirectory
    resolve_id: IdResolver
    parent_modules: Mapping[str, str]
    row_fields: Mapping[str, Mapping[str, FieldMeta]] = field(default_factory=dict)
    target_modules: Mapping[str, str] = field(default_factory=dict)
    currency: CurrencyRule | None = None  # None: the target module holds no amounts

    @classmethod
    def for_route(
        cls,
        route: Route,
        source_module: str,
        target_fields: Mapping[str, FieldMeta],
        source_users: UserDirectory,
        target_users: UserDirectory,
        resolve_id: IdResolver,
        row_fields: Mapping[str, Mapping[str, FieldMeta]] | None = None,
        money: tuple[OrgMoney | MoneyUnknown, OrgMoney | MoneyUnknown] | None = None,
        rates: Rates | None = None,
    ) -> TransformContext:
        targets = {module: route.target_module(module) for module in route.modules}
        parents = {target: module for module, target in targets.items()}
        amounts = Amounts(
            _money(target_fields), {name: _money(rows) for name, rows in (row_fields or {}).items()}
        )
        rule = None
        if money is not None and amounts:
            policy = route.currency_policy(source_module)
            rule = CurrencyRule(*money, policy, amounts, rates or {})
        return cls(
            source_module,
            target_fields,
            source_users,
            target_users,
            resolve_id,
            parents,
            row_fields or {},
            targets,
            rule,
        )

    def target_id(self, module: str, source_id: str) -> str | None:
        if isinstance(self.resolve_id, Mapping):
            return self.resolve_id.get((module, source_id))
        return self.resolve_id(module, source_id)


def _money(fields: Mapping[str, FieldMeta]) -> frozenset[str]:
    if isinstance(fields, FieldIndex):
        return fields.money
    return frozenset(name for name, meta in fields.items() if meta.data_type == "currency")
