"""A starter `sync` section from two orgs' field metadata and users (`orgsync init`; pure).

Per module: the fields both orgs have under one API name; fields whose labels match but whose
API names differ, as `rename`; picklist values only the source has, as a commented `values` map
to fill in (marked FILL_IN); a match field (`Origin_Record_Id` when the target has it, else a
unique field only the target has); `link_existing` keys (unique fields both have); an `owner`
mapping when users match by e-mail; and a warning for each field the target requires that
nothing maps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.mapping.transforms import SYSTEM_FIELDS, SYSTEM_UNIQUE_FIELDS, FieldMeta

ORIGIN = "Origin_Record_Id"
FILL_IN = "FILL_IN"
Fields = Sequence[Mapping[str, Any]]


@dataclass
class ModuleStarter:
    module: str
    fields: list[str] = field(default_factory=list)
    rename: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, list[str]]] = field(
        default_factory=dict
    )  # field -> value -> theirs
    match_field: str | None = None
    link_existing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _copyable(meta: Mapping[str, Any]) -> bool:
    return FieldMeta.from_zoho(meta).writable and str(meta["api_name"]) not in SYSTEM_FIELDS


def _label(meta: Mapping[str, Any]) -> str:
    return str(meta.get("field_label") or meta.get("display_label") or "").strip().casefold()


def _picklist(meta: Mapping[str, Any]) -> list[str]:
    values = meta.get("pick_list_values") or []
    return [str(v.get("actual_value") or v.get("display_value")) for v in values]


def _unique(meta: Mapping[str, Any]) -> bool:
    return bool(meta.get("unique"))


def suggest(module: str, source: Fields, target: Fields) -> ModuleStarter:
    out = ModuleStarter(module)
    src = {str(m["api_name"]): m for m in source if _copyable(m)}
    tgt = {str(m["api_name"]): m for m in target if _copyable(m)}
    out.match_field = _match_field(src, tgt)
    by_label = {_label(m): name for name, m in tgt.items() if name not in src and _label(m)}
    for name, meta in src.items():
        theirs = name if name in tgt else by_label.get(_label(meta))
        if theirs is None or theirs == out.match_field:
            continue
        out.fields.append(name)
        if theirs != name:
            out.rename[name] = theirs
        missing = [v for v in _picklist(meta) if v not in _picklist(tgt[theirs])]
        if missing:
            out.values[name] = {v: _picklist(tgt[theirs]) for v in missing}
    keys = [SYSTEM_UNIQUE_FIELDS.get(module), "Email"]
    keys += [n for n, m in tgt.items() if _unique(m) and n != out.match_field]
    mapped = {out.rename.get(n, n) for n in out.fields}
    out.link_existing = list(dict.fromkeys(k for k in keys if k and k in mapped))[:1]
    for name, meta in tgt.items():
        if meta.get("system_mandatory") and name not in mapped and name != out.match_field:
            out.warnings.append(f"the target requires {name}, which nothing maps")
    return out


def _match_field(src: Mapping[str, Any], tgt: Mapping[str, Any]) -> str | None:
    if ORIGIN in tgt:
        return ORIGIN
    external = [n for n, m in tgt.items() if _unique(m) and n not in src]
    return external[0] if external else None


def owner_default(source_users: Fields, target_users: Fields) -> tuple[str | None, int]:
    """The target user new records fall back to (its first active admin, else its first
    active user), and how many source users have a target user with their e-mail."""
    emails = {str(u.get("email", "")).casefold() for u in target_users if u.get("email")}
    matched = sum(1 for u in source_users if str(u.get("email", "")).casefold() in emails)
    active = [u for u in target_users if u.get("status", "active") == "active" and u.get("email")]
    admins = [u for u in active if "admin" in str((u.get("profile") or {}).get("name", "")).lower()]
    chosen = admins or active
    return (str(chosen[0]["email"]) if chosen else None), matched


def render(
    source: str, target: str, modules: Sequence[ModuleStarter], owner: tuple[str | None, int]
) -> str:
    """The `sync:` section as YAML, with comments where a person must decide."""
    lines = ["sync:", f"  - source: {source}", f"    target: {target}", "    modules:"]
    for starter in modules:
        lines += _module_lines(starter, owner)
    return "\n".join(lines) + "\n"


def _module_lines(starter: ModuleStarter, owner: tuple[str | None, int]) -> list[str]:
    pad = " " * 8
    lines = [f"      {starter.module}:"]
    if starter.match_field:
        lines.append(f"{pad}match_field: {starter.match_field}")
    else:
        lines.append(
            f"{pad}match_field: {ORIGIN}  # {FILL_IN}: create this unique field in the target first"
        )
    if starter.link_existing:
        lines.append(
            f"{pad}link_existing: {json.dumps(starter.link_existing)}"
            "  # binds records both orgs hold already"
        )
    lines.append(f"{pad}fields: {json.dumps(starter.fields)}")
    if starter.rename:
        lines.append(f"{pad}rename:  # same label, another API name")
        lines += [f"{pad}  {s}: {t}" for s, t in starter.rename.items()]
    if starter.values:
        lines.append(f"{pad}# values:  # picklist values the target lacks: map each to one it has")
        for name, missing in starter.values.items():
            lines.append(f"{pad}#   {name}:")
            for value, theirs in missing.items():
                options = ", ".join(theirs) or "none"
                lines.append(
                    f"{pad}#     {json.dumps(value)}: {FILL_IN}  # the target has: {options}"
                )
    default, matched = owner
    if default and matched:
        lines.append(
            f"{pad}owner: {{match: email, default: {default}}}  # {matched} users match by e-mail"
        )
    lines += [f"{pad}# WARNING: {w}" for w in starter.warnings]
    return lines
