"""Schema drift between two reads of a module's field metadata (pure).

Field metadata is re-read every `processor.metadata_refresh_seconds`; what changed in between
would otherwise make fields stop syncing without a trace. Fields are matched by their Zoho
`id`, so a renamed API name is told from a removed field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Drift:
    kind: str  # removed | renamed | type_changed | now_mandatory
    field: str
    detail: str


def schema_drift(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> list[Drift]:
    old = {str(f.get("id") or f.get("api_name")): f for f in before}
    new = {str(f.get("id") or f.get("api_name")): f for f in after}
    found: list[Drift | None] = [_gone(f) for key, f in old.items() if key not in new]
    for key, field in new.items():
        previous = old.get(key)
        found += _changed(previous, field) if previous else _added(field)
    return [d for d in found if d is not None]


def _gone(field: Mapping[str, Any]) -> Drift:
    name = str(field.get("api_name"))
    return Drift("removed", name, f"{name} is no longer a field: it is not synced any more")


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Drift | None]:
    name, was = str(new.get("api_name")), str(old.get("api_name"))
    out: list[Drift | None] = []
    if name != was:
        out.append(Drift("renamed", was, f"{was} is now {name}: rename it in the route"))
    if old.get("data_type") != new.get("data_type"):
        detail = f"{name} changed type from {old.get('data_type')} to {new.get('data_type')}"
        out.append(Drift("type_changed", name, detail))
    if _mandatory(new) and not _mandatory(old):
        out.append(Drift("now_mandatory", name, f"{name} became mandatory"))
    return out


def _added(field: Mapping[str, Any]) -> list[Drift | None]:
    name = str(field.get("api_name"))
    if _mandatory(field):
        return [Drift("now_mandatory", name, f"{name} is a new mandatory field")]
    return []


def _mandatory(field: Mapping[str, Any]) -> bool:
    return bool(field.get("system_mandatory") or field.get("mandatory"))
