"""COQL columns (v7 COQL page): a field, a lookup's dot column (``Account_Name.Account_Name``,
at most two relations: ``Account_Name.Parent_Account.Account_Name``) and a multi-module lookup's
arrow column (``What_Id->Deals.Deal_Name``, Tasks/Events/Calls).

A column reads the stored value of the record it reaches (None when a lookup on the way is
empty or points elsewhere) and renders it as the API does; a multi-module lookup itself is
shown as ``{"id"}`` only (no display name, as the page's samples).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .http import ApiError
from .polymorphic import SE_MODULE
from .render import Renderer
from .schema import FieldDef, ModuleDef
from .store import ModuleStore, StoredRecord

MAX_RELATIONS = 2
ID = FieldDef("id", "bigint")


@dataclass(frozen=True)
class Hop:
    lookup: str  # the lookup field followed
    module: str  # the module it leads to
    polymorphic: bool = False  # What_Id->Module: only records whose $se_module is that module


@dataclass(frozen=True)
class Column:
    name: str  # as written in the query (the row key)
    field: FieldDef  # the field whose value it reads (its type decides operators)
    module: str  # that field's module
    hops: tuple[Hop, ...] = ()

    def target(self, rec: StoredRecord, stores: Mapping[str, ModuleStore]) -> StoredRecord | None:
        current: StoredRecord | None = rec
        for hop in self.hops:
            assert current is not None
            if hop.polymorphic and current.values.get(SE_MODULE) != hop.module:
                return None
            rid = current.values.get(hop.lookup)
            current = stores[hop.module].records.get(rid) if rid else None
            if current is None:
                return None
        return current

    def raw(self, rec: StoredRecord, stores: Mapping[str, ModuleStore]) -> Any:
        found = self.target(rec, stores)
        return None if found is None else raw_value(found, self.field.api_name)

    def render(
        self,
        rec: StoredRecord,
        stores: Mapping[str, ModuleStore],
        renderer_of: Callable[[str], Renderer],
    ) -> Any:
        found = self.target(rec, stores)
        if found is None:
            return None
        if self.field.lookup_modules:  # a multi-module lookup: the id only
            rid = found.values.get(self.field.api_name)
            return {"id": rid} if rid else None
        value = renderer_of(self.module).value(found, self.field.api_name)
        if isinstance(value, dict) and "email" in value:  # COQL shows users as {name, id}
            value = {"name": value["name"], "id": value["id"]}
        return value


def raw_value(rec: StoredRecord, name: str) -> Any:
    """A record's stored value, system fields included (times as epoch seconds, users as ids)."""
    if name == "id":
        return rec.id
    if name in ("Created_Time", "Modified_Time"):
        return rec.created_s if name == "Created_Time" else rec.modified_s
    if name in ("Created_By", "Modified_By"):
        return rec.created_by if name == "Created_By" else rec.modified_by
    return rec.values.get(name)


def invalid_column(name: str) -> ApiError:
    return ApiError(400, "INVALID_QUERY", "column given seems to be invalid", {"column_name": name})


def resolve(name: str, module: ModuleDef, modules: Mapping[str, ModuleDef]) -> Column:
    if name == "id":
        return Column(name, ID, module.api_name)
    if "->" in name:
        return _arrow(name, module, modules)
    parts = name.split(".")
    if len(parts) > MAX_RELATIONS + 1:
        raise invalid_column(name)
    hops: list[Hop] = []
    current = module
    for part in parts[:-1]:
        fd = current.fields.get(part)
        if fd is None or fd.data_type != "lookup" or fd.lookup_module not in modules:
            raise invalid_column(name)
        hops.append(Hop(part, fd.lookup_module))
        current = modules[fd.lookup_module]
    return Column(name, _field(current, parts[-1], name), current.api_name, tuple(hops))


def _arrow(name: str, module: ModuleDef, modules: Mapping[str, ModuleDef]) -> Column:
    """``What_Id->Deals.Deal_Name``: the field of the related record when it is a Deal."""
    lookup, _, rest = name.partition("->")
    target, _, field = rest.partition(".")
    fd = module.fields.get(lookup)
    if fd is None or target not in fd.lookup_modules or target not in modules or "." in field:
        raise invalid_column(name)
    hop = Hop(lookup, target, polymorphic=True)
    return Column(name, _field(modules[target], field, name), target, (hop,))


def _field(module: ModuleDef, name: str, column: str) -> FieldDef:
    fd = ID if name == "id" else module.fields.get(name)
    if fd is None:
        raise invalid_column(column)
    return fd
