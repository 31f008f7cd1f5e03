"""Content hashes of mapped records: equal for equal content however Zoho shapes it (pure)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

# Keys of a subform row or line tax that Zoho assigns or computes: not content (reference §16).
_ROW_BOOKKEEPING = frozenset(
    {"id", "Sequence_Number", "Total", "Total_After_Discount", "Net_Total", "Tax", "value"}
)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


def content_hash(mapped: Mapping[str, Any]) -> str:
    """A stable hash of mapped record content, equal for equal content however Zoho shapes it.

    Lookups compare by id only (`{"id", "name"}` == `{"id"}`), date-times as instants,
    integral floats as integers, lists of strings (multi-select picklists) as sets, and
    subform rows by what they hold (not their ids, computed totals or empty fields).
    """
    top: dict[str, Any] = {}
    for key, value in mapped.items():
        if type(value) is str and value[10:11] != "T" and type(key) is str:
            top[key] = value  # most fields: text that is no date-time, as `_canonical` keeps it
        else:
            top[str(key)] = _canonical(value)
    canonical = orjson.dumps(top, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def written_view(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The part of a target record that a write of `fields` determines (for echo checks)."""
    return {name: record.get(name) for name in fields}


def _canonical(value: Any) -> Any:
    kind = type(value)
    if kind is str:  # the common case first: only a date-time changes
        return _utc(value) if value[10:11] == "T" and _DATETIME.fullmatch(value) else value
    if kind is int or kind is bool or value is None:
        return value
    if isinstance(value, Mapping):
        if "id" in value:
            return {"id": str(value["id"])}
        return {str(k): _canonical(v) for k, v in value.items() if not str(k).startswith("$")}
    if isinstance(value, list | tuple):
        items = [_row(item) if isinstance(item, Mapping) else _canonical(item) for item in value]
        return sorted(items) if all(isinstance(item, str) for item in items) else items
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        return _utc(value)
    return value


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str(k): _canonical(v)
        for k, v in row.items()
        if v is not None and v != [] and k not in _ROW_BOOKKEEPING and not str(k).startswith("$")
    }


def _utc(text: str) -> str:
    try:
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()
    except ValueError:
        return text
