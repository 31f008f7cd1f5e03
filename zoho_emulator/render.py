"""Stored records → Zoho's JSON shapes: lookups {name,id}, users {name,id,email}, ISO times."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timezone
from functools import partial
from typing import Any

from .currency import CURRENCY, SYMBOL
from .dc import format_datetime
from .polymorphic import SE_MODULE, polymorphic_field
from .schema import FieldDef, ModuleDef
from .store import ModuleStore, StoredRecord
from .subforms import render_rows
from .users import User


class Renderer:
    """Renders one module's records; lookups read the org's stores (by module) when rendering."""

    def __init__(
        self,
        module: ModuleDef,
        tz: timezone,
        users: Sequence[User],
        stores: Mapping[str, ModuleStore],
        modules: Mapping[str, ModuleDef],
        tags: Mapping[str, Mapping[str, Any]] | None = None,
        symbol_of: Callable[[Any], str | None] | None = None,
    ) -> None:
        self.module = module
        # multi-currency: the record's currency symbol beside its fields (read-only, reference §18)
        self._symbol_of = symbol_of if CURRENCY in module.fields else None
        self._tags = tags if tags is not None else {}
        self._stores = stores
        self._modules = modules
        self._tz = tz
        self._times: dict[int, str] = {}
        # shared, never-mutated user shapes: rendering runs for every record written or read
        self._users = {u.id: u.minified() for u in users}
        # write results show users as {"name", "id"} only (the documented samples)
        self._writers = {u.id: {"name": u.name, "id": u.id} for u in users}
        self._meta: dict[str, Callable[[StoredRecord], Any]] = {
            "id": lambda rec: rec.id,
            "Created_Time": lambda rec: self.time(rec.created_s),
            "Modified_Time": lambda rec: self.time(rec.modified_s),
            "Created_By": lambda rec: self.user(rec.created_by),
            "Modified_By": lambda rec: self.user(rec.modified_by),
            "Tag": self.tag_list,
        }
        self._formats: dict[str, Callable[[Any], Any]] = {}
        for name, fd in module.fields.items():
            fmt = self._format_for(fd)
            if fmt is not None:
                self._formats[name] = fmt
        # subform rows and multi-select lookups appear only in single-record GETs (reference §2.2)
        self._hidden = frozenset(
            n for n, f in module.fields.items() if f.data_type in ("subform", "multiselectlookup")
        )
        poly = polymorphic_field(module)
        if poly is not None:
            self._meta[poly.api_name] = partial(self._polymorphic, poly.api_name)
        self._se_module = poly is not None and poly.api_name != "Parent_Id"

    def _format_for(self, fd: FieldDef) -> Callable[[Any], Any] | None:
        dt = fd.data_type
        if dt == "datetime":
            return self.time
        if dt in ("ownerlookup", "userlookup"):
            return self.user
        if dt == "lookup":
            return self._lookup_for(fd.lookup_module or "")
        if dt == "multiselectpicklist":
            return list
        if dt in ("subform", "multiselectlookup"):
            lookups = {
                r.api_name: self._lookup_for(r.lookup_module) for r in fd.rows if r.lookup_module
            }
            if "Product_Name" in lookups:
                lookups["Product_Name"] = self._lookup_for("Products", extra="Product_Code")
            return partial(render_rows, fd, lookups=lookups)
        return None

    def _polymorphic(self, name: str, rec: StoredRecord) -> Any:
        """What_Id → {name, id} ($se_module beside it); Parent_Id → {module, name, id} (v8)."""
        rid, target = rec.values.get(name), str(rec.values.get(SE_MODULE))
        if rid is None or target not in self._modules:
            return None
        shown = self._lookup_for(target)(rid)
        if shown is not None and name == "Parent_Id":
            module = self._modules[target]
            return {"module": {"api_name": target, "id": module.id}, **shown}
        return shown

    def tag_list(self, rec: StoredRecord) -> list[dict[str, Any]]:
        """The record's tags as Zoho shows them: ``[{"name", "id", "color_code"}]``, or []."""
        out = []
        for tid in rec.values.get("Tag") or ():
            tag = self._tags.get(tid)
            if tag is not None:
                out.append({"name": tag["name"], "id": tid, "color_code": tag["color_code"]})
        return out

    def time(self, epoch_s: int) -> str:
        found = self._times.get(epoch_s)
        if found is None:
            if len(self._times) > 4096:
                self._times.clear()
            found = self._times[epoch_s] = format_datetime(epoch_s, self._tz)
        return found

    def user(self, uid: Any) -> dict[str, str] | None:
        return self._users.get(uid)

    def _lookup_for(self, target: str, extra: str = "") -> Callable[[Any], Any]:
        store = self._stores.get(target)
        name_field = self._modules[target].name_field if store else ""

        def lookup(rid: Any) -> dict[str, Any] | None:
            rec = store.records.get(rid) if store else None
            if rec is None:
                return None
            if extra:  # a line item's Product_Name also shows Product_Code (reference §16)
                return {"name": rec.values.get(name_field), "id": rid, extra: rec.values.get(extra)}
            return {"name": rec.values.get(name_field), "id": rid}

        return lookup

    def value(self, rec: StoredRecord, name: str) -> Any:
        meta = self._meta.get(name)
        if meta is not None:
            return meta(rec)
        raw = rec.values.get(name)
        if raw is None:
            return None
        fmt = self._formats.get(name)
        return fmt(raw) if fmt else raw

    def select(self, rec: StoredRecord, names: Iterable[str]) -> dict[str, Any]:
        out = {name: self.value(rec, name) for name in names if name not in self._hidden}
        if self._se_module and "What_Id" in out:
            out[SE_MODULE] = rec.values.get(SE_MODULE)
        if self._symbol_of is not None:
            out[SYMBOL] = self._symbol_of(rec.values.get(CURRENCY))
        out["id"] = rec.id
        return out

    def full(self, rec: StoredRecord) -> dict[str, Any]:
        out: dict[str, Any] = {name: self.value(rec, name) for name in self.module.fields}
        out["Tag"] = self.tag_list(rec)
        if self._se_module:
            out[SE_MODULE] = rec.values.get(SE_MODULE)
        if self._symbol_of is not None:
            out[SYMBOL] = self._symbol_of(rec.values.get(CURRENCY))
        out["id"] = rec.id
        return out

    def write_details(self, rec: StoredRecord) -> dict[str, Any]:
        time, users = self.time, self._writers
        return {
            "Modified_Time": time(rec.modified_s),
            "Modified_By": users.get(rec.modified_by),
            "Created_Time": time(rec.created_s),
            "id": rec.id,
            "Created_By": users.get(rec.created_by),
        }

    def display_name(self, rec: StoredRecord) -> Any:
        return rec.values.get(self.module.name_field)
