"""Stored records → Zoho's JSON shapes: lookups {name,id}, users {name,id,email}, ISO times."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .dc import format_datetime
from .schema import FieldDef, ModuleDef
from .store import StoredRecord

if TYPE_CHECKING:
    from .state import OrgState

_META = ("Created_Time", "Modified_Time", "Created_By", "Modified_By")


class Renderer:
    def __init__(self, org: OrgState, module: ModuleDef) -> None:
        self.org = org
        self.module = module
        self._formats: dict[str, Callable[[Any], Any]] = {
            name: self._format_for(fd) for name, fd in module.fields.items()
        }

    def _format_for(self, fd: FieldDef) -> Callable[[Any], Any]:
        dt = fd.data_type
        if dt == "datetime":
            tz = self.org.tz
            return lambda v: format_datetime(v, tz)
        if dt in ("ownerlookup", "userlookup"):
            return self.user
        if dt == "lookup":
            return self._lookup_for(fd.lookup_module or "")
        if dt == "multiselectpicklist":
            return list
        return _identity

    def user(self, uid: Any) -> dict[str, str] | None:
        user = self.org.users_by_id.get(uid)
        return user.minified() if user else None

    def _lookup_for(self, target: str) -> Callable[[Any], Any]:
        store = self.org.stores.get(target)
        name_field = self.org.modules[target].name_field if store else ""

        def lookup(rid: Any) -> dict[str, Any] | None:
            rec = store.records.get(rid) if store else None
            return {"name": rec.values.get(name_field), "id": rid} if rec else None

        return lookup

    def value(self, rec: StoredRecord, name: str) -> Any:
        if name == "id":
            return rec.id
        if name in _META:
            return self._meta(rec, name)
        raw = rec.values.get(name)
        if raw is None:
            return None
        fmt = self._formats.get(name)
        return fmt(raw) if fmt else raw

    def _meta(self, rec: StoredRecord, name: str) -> Any:
        if name == "Created_Time":
            return format_datetime(rec.created_s, self.org.tz)
        if name == "Modified_Time":
            return format_datetime(rec.modified_s, self.org.tz)
        return self.user(rec.created_by if name == "Created_By" else rec.modified_by)

    def select(self, rec: StoredRecord, names: Iterable[str]) -> dict[str, Any]:
        out = {name: self.value(rec, name) for name in names}
        out["id"] = rec.id
        return out

    def full(self, rec: StoredRecord) -> dict[str, Any]:
        out: dict[str, Any] = {name: self.value(rec, name) for name in self.module.fields}
        out["id"] = rec.id
        return out

    def write_details(self, rec: StoredRecord) -> dict[str, Any]:
        return {
            "Modified_Time": self._meta(rec, "Modified_Time"),
            "Modified_By": self._meta(rec, "Modified_By"),
            "Created_Time": self._meta(rec, "Created_Time"),
            "id": rec.id,
            "Created_By": self._meta(rec, "Created_By"),
        }

    def display_name(self, rec: StoredRecord) -> Any:
        return rec.values.get(self.module.name_field)


def _identity(value: Any) -> Any:
    return value
