"""What the pipeline knows about records, as plain dicts (pure functions over them).

Three maps hold it (kept by pipeline/worker/state.py in compacted topics):

- fingerprints (partitioned like `hints`): per route, the last accepted change of a source
  record (`dedup.Fingerprint` as a dict). Only the processor writes it.
- links (partitioned by the record they start from): `link_key(org, module, id, other_org)`
  -> the id of the corresponding record in `other_org`, both directions, written by the sinks
  from upsert outcomes.
- record states (partitioned like `hints`, keyed by record key), for the records of orgs that
  routes write into: per field, a hash of the value the record holds and the version of that
  value (pipeline/sync/versions.py: a genuine edit's, or the copied value's). The processor
  updates it from each observed change; the sink from each write it made. A value we wrote that
  comes back is therefore not a genuine edit (an echo), a write that would only set what the
  target already holds is dropped, and a value is written only over an older version — which
  is what stops two-way routes from ping-ponging and makes them converge.

A state value: `{"values": {field: hash}, "versions": {field: [second, tick(, origin)]},
"bases": {field: version replaced by a genuine edit}, "edits": {field: shown value},
"modified": Modified_Time}`; a version leaves out its origin when it is the record's own org.

Why a record's worker is enough: a write into a two-way record is decided by the worker of
that record's partition, where its state is (pipeline/worker/round.py, `Processor.decide`); a
child's parent link, on another partition, is asked for and published (pipeline/worker/tables.py).
The alternative, searching the target by the match field for every unresolved lookup, costs an
API call per lookup and cannot work for natural keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orgsync_kernel.events import parse_instant
from pipeline.mapping.content import content_hash
from pipeline.sync.versions import Side, Version, after, decide, seconds

SHOWN = 200  # characters of a genuinely edited value kept, to show both sides of a conflict
# Fields whose changes are Zoho's bookkeeping, never an edit of content.
_BOOKKEEPING = frozenset(
    {"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By", "Last_Activity_Time"}
)

State = dict[str, Any]


def field_hash(value: Any) -> str:
    return content_hash({"v": value})[:16]


def _copy(state: Mapping[str, Any] | None) -> State:
    state = state or {}
    return {
        "values": dict(state.get("values") or {}),
        "versions": dict(state.get("versions") or {}),
        "bases": dict(state.get("bases") or {}),
        "edits": dict(state.get("edits") or {}),
        "modified": state.get("modified"),
    }


def shown(value: Any) -> Any:
    """A value as kept to be shown in a conflict: scalars as they are, anything long as
    shortened text."""
    if not isinstance(value, str | int | float | bool | None):
        value = str(value)
    return value[:SHOWN] + "…" if isinstance(value, str) and len(value) > SHOWN else value


def is_stale(state: Mapping[str, Any] | None, modified_time: str | None) -> bool:
    """A fetched copy older than what we already know the record holds (e.g. our later write)."""
    known = (state or {}).get("modified")
    if not known or not modified_time:
        return False
    return parse_instant(modified_time) < parse_instant(known)


def side(state: Mapping[str, Any] | None, name: str, own: str) -> Side:
    """The version of field `name` of a record of org `own` in `state`, and its base."""
    if not state:
        return Side(None)
    versions, bases = state.get("versions") or {}, state.get("bases") or {}
    return Side(Version.decode(versions.get(name), own), Version.decode(bases.get(name), own))


def observe(
    state: Mapping[str, Any] | None,
    record: Mapping[str, Any],
    modified_time: str | None,
    own: str,
    kept: frozenset[str] | None = None,
) -> tuple[State, list[str]]:
    """The new state of a record of org `own` after seeing it hold `record`, and the fields
    that were genuinely edited (each gets a version after the one it replaced). `kept`: the
    fields some route reads or writes (None: all); the others are not kept."""
    new = _copy(state)
    edited: list[str] = []
    at = seconds(modified_time) if modified_time else None
    for name, value in record.items():
        if name.startswith("$") or name in _BOOKKEEPING or (kept is not None and name not in kept):
            continue
        digest = field_hash(value)
        if new["values"].get(name) != digest:
            edited.append(name)
            if at is not None:
                base = side(new, name, own).version
                new["versions"][name] = after(base, at, own).encode(own)
                if base is None:
                    new["bases"].pop(name, None)
                else:
                    new["bases"][name] = base.encode(own)
            if state is not None:  # an edit of a record we knew: worth showing in a conflict
                new["edits"][name] = shown(value)
        new["values"][name] = digest
    if modified_time:
        new["modified"] = modified_time
    return new, edited


def written(
    state: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    modified_time: str | None,
    own: str,
    sides: Mapping[str, Side] | None = None,
) -> State:
    """The new state of a record of org `own` after we wrote `data` to it (not a genuine
    edit): each field holds the version of the value it copies (`sides`, by field)."""
    new = _copy(state)
    for name, value in data.items():
        new["values"][name] = field_hash(value)
        copied = (sides or {}).get(name)
        if copied is None or copied.version is None:
            continue
        new["versions"][name] = copied.version.encode(own)
        if copied.base is None:
            new["bases"].pop(name, None)
        else:
            new["bases"][name] = copied.base.encode(own)
    if modified_time:
        new["modified"] = modified_time
    return new


@dataclass(frozen=True)
class Conflict:
    """Both orgs edited `field`, neither over the other's value. `winner`: "source" or
    "target"; `target_edited_at`: the second of the target's version (ISO 8601, UTC)."""

    field: str
    incoming: Any
    target: Any  # the target's value (shortened), None when not known
    target_edited_at: str
    winner: str


def changed_fields(
    data: Mapping[str, Any],
    match_field: str | None,
    target: Mapping[str, Any] | None,
    incoming: Mapping[str, Side],
    target_org: str,
    policy: str = "latest",
    conflicts: list[Conflict] | None = None,
    lost: list[str] | None = None,
) -> dict[str, Any] | None:
    """The part of `data` worth writing to a record in state `target`, or None for nothing.

    A field is left out when the target already holds that value, or when the version of the
    target's value beats the incoming one (`versions.decide`; `policy` settles conflicts,
    each appended to `conflicts`; the fields that lose to `lost`). `match_field` (None: none)
    is sent with what is written.
    """
    if target is None:
        return dict(data)
    values = target.get("values") or {}
    keep: dict[str, Any] = {}
    for name, value in data.items():
        if name == match_field or values.get(name) == field_hash(value):
            continue
        mine = side(target, name, target_org)
        outcome = decide(incoming.get(name, Side(None)), mine, policy)
        if outcome.conflict and conflicts is not None and mine.version is not None:
            edits = target.get("edits") or {}
            winner = "source" if outcome.write else "target"
            at = _iso(mine.version.at)
            conflicts.append(Conflict(name, shown(value), edits.get(name), at, winner))
        if outcome.write:
            keep[name] = value
        elif lost is not None:
            lost.append(name)
    if not keep:
        return None
    if match_field is not None:
        keep[match_field] = data[match_field]
    return keep


def _iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()
