"""Records of one module: the rows, the indexes on duplicate-check fields, and deletions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .schema import ModuleDef


@dataclass(slots=True)
class StoredRecord:
    """Values are kept in stored form: lookups/owners as id strings, date-times as epoch seconds."""

    id: str
    values: dict[str, Any]
    created_s: int
    modified_s: int
    created_by: str
    modified_by: str


@dataclass(frozen=True, slots=True)
class DeletedEntry:
    id: str
    display_name: str | None
    created_by: str
    deleted_by: str
    deleted_s: int
    type: str = "recycle"


_NO_INDEX: dict[Any, dict[str, None]] = {}
_EMPTY: dict[str, None] = {}


def index_key(value: Any) -> Any:
    # Zoho's duplicate check ignores case on text values.
    return value.strip().lower() if isinstance(value, str) else value


@dataclass
class ModuleStore:
    module: ModuleDef
    records: dict[str, StoredRecord] = field(default_factory=dict)
    deleted: list[DeletedEntry] = field(default_factory=list)
    indexes: dict[str, dict[Any, dict[str, None]]] = field(default_factory=dict)
    deleted_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for name in (self.module.dup_field, *self.module.unique_fields):
            if name in self.module.fields:
                self.indexes.setdefault(name, {})
        for fd in self.module.fields.values():
            if fd.external:
                self.indexes.setdefault(fd.api_name, {})

    def bucket(self, field_name: str, value: Any) -> dict[str, None]:
        """Every record whose indexed field equals value, oldest first."""
        if value is None or value == "":
            return _EMPTY
        return self.indexes.get(field_name, _NO_INDEX).get(index_key(value)) or _EMPTY

    def find(self, field_name: str, value: Any, exclude: str | None = None) -> str | None:
        """The oldest record whose indexed field equals value (None if absent or not indexed)."""
        if value is None or value == "":
            return None
        bucket = self.indexes.get(field_name, _NO_INDEX).get(index_key(value))
        if not bucket:
            return None
        for rid in bucket:
            if rid != exclude:
                return rid
        return None

    def put(self, record: StoredRecord, previous: dict[str, Any] | None) -> None:
        for name, index in self.indexes.items():
            old = previous.get(name) if previous else None
            new = record.values.get(name)
            if previous is not None and (old == new or index_key(old) == index_key(new)):
                continue
            if old not in (None, ""):
                self._unindex(index, old, record.id)
            if new not in (None, ""):
                index.setdefault(index_key(new), {})[record.id] = None
        self.records[record.id] = record

    def remove(self, rid: str) -> StoredRecord:
        record = self.records.pop(rid)
        for name, index in self.indexes.items():
            value = record.values.get(name)
            if value not in (None, ""):
                self._unindex(index, value, rid)
        return record

    def add_deleted(self, entry: DeletedEntry) -> None:
        self.deleted.append(entry)
        self.deleted_ids.add(entry.id)

    def clear(self) -> None:
        self.records.clear()
        self.deleted.clear()
        self.deleted_ids.clear()
        for index in self.indexes.values():
            index.clear()

    @staticmethod
    def _unindex(index: dict[Any, dict[str, None]], value: Any, rid: str) -> None:
        key = index_key(value)
        bucket = index.get(key)
        if bucket is not None:
            bucket.pop(rid, None)
            if not bucket:
                del index[key]
