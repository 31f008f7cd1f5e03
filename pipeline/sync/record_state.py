"""What the pipeline knows about records, as plain dicts (pure functions over them).

Three maps hold it (kept by pipeline/worker/state.py in compacted topics):

- fingerprints (partitioned like `hints`): per route, the last accepted change of a source
  record (`dedup.Fingerprint` as a dict). Only the processor writes it.
- links (read by every worker): `link_key(org, module, id, other_org)` -> the id of the
  corresponding record in `other_org`, both directions, written by the sinks from upsert outcomes.
- record states (read by every worker, keyed by record key): per field, a hash of the value the
  record holds and the Modified_Time of the last *genuine* edit of that field. The processor
  updates it from each observed change; the sink from each write it made. A value we wrote that
  comes back is therefore not a genuine edit (an echo), and a write that would only set what the
  target already holds is dropped — which is what stops two-way routes from ping-ponging.

Why every worker reads links and record states: a child's parent and a target record have other
keys than the event being processed, so they live on other partitions. The alternative, searching
the target by the match field for every unresolved lookup, costs an API call per lookup and
cannot work for natural keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orgsync_kernel.events import parse_instant
from pipeline.mapping.content import content_hash
from pipeline.sync.dedup import Edit, incoming_wins

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
        "times": dict(state.get("times") or {}),
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


def observe(
    state: Mapping[str, Any] | None, record: Mapping[str, Any], modified_time: str | None
) -> tuple[State, list[str]]:
    """The new state after seeing `record`, and the fields that were genuinely edited."""
    new = _copy(state)
    edited: list[str] = []
    for name, value in record.items():
        if name.startswith("$") or name in _BOOKKEEPING:
            continue
        digest = field_hash(value)
        if new["values"].get(name) != digest:
            edited.append(name)
            if modified_time:
                new["times"][name] = modified_time
            if state is not None:  # an edit of a record we knew: worth showing in a conflict
                new["edits"][name] = shown(value)
        new["values"][name] = digest
    if modified_time:
        new["modified"] = modified_time
    return new, edited


def written(
    state: Mapping[str, Any] | None, data: Mapping[str, Any], modified_time: str | None
) -> State:
    """The new state of a target record after we wrote `data` to it (not a genuine edit)."""
    new = _copy(state)
    for name, value in data.items():
        new["values"][name] = field_hash(value)
    if modified_time:
        new["modified"] = modified_time
    return new


@dataclass(frozen=True)
class Conflict:
    """Both orgs edited `field`: the target after the source change orgsync synced before
    this one, so the source did not see it. `winner`: "source" or "target"."""

    field: str
    incoming: Any
    target: Any  # the target's value (shortened), None when not known
    target_edited_at: str
    winner: str


def changed_fields(
    data: Mapping[str, Any],
    match_field: str,
    target: Mapping[str, Any] | None,
    incoming: Edit | None,
    target_org: str,
    policy: str = "latest",
    conflicts: list[Conflict] | None = None,
    since: str | None = None,
) -> dict[str, Any] | None:
    """The part of `data` worth writing to a record in state `target`, or None for nothing.

    A field is left out when the target already holds that value, or when the target's own
    genuine edit of it is later than the incoming change (`dedup.incoming_wins`). A target edit
    later than `since` (the source change synced before this one) is a conflict, which
    `policy` settles: `latest` as above, `source_wins`, `target_wins`; each is appended to
    `conflicts`.
    """
    if target is None:
        return dict(data)
    values, times = target.get("values") or {}, target.get("times") or {}
    keep: dict[str, Any] = {}
    for name, value in data.items():
        if name == match_field or values.get(name) == field_hash(value):
            continue
        edited_at = times.get(name)
        if incoming and edited_at:
            target_edit = Edit(target_org, edited_at)
            wins = incoming_wins(incoming, target_edit)
            if since is None or parse_instant(edited_at) > parse_instant(since):
                wins = {"source_wins": True, "target_wins": False}.get(policy, wins)
                if conflicts is not None:
                    edits = target.get("edits") or {}
                    winner = "source" if wins else "target"
                    conflicts.append(
                        Conflict(name, shown(value), edits.get(name), edited_at, winner)
                    )
            if not wins:
                continue
        keep[name] = value
    if not keep:
        return None
    keep[match_field] = data[match_field]
    return keep
