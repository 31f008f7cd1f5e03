"""What a sync would do to one target module, decided without writing (`orgsync plan`; pure).

Each mapped source record is one of:
- `create`: no target record has its link, its match value or (with `link_existing`) its key;
- `link`: no link or match value, but exactly one unclaimed target record has its key;
- `ambiguous`: several do;
- `update`: a target record is found (link or match value) and some mapped field differs;
- `unchanged`: found, and every mapped field already holds the value (compared as
  `link_existing` compares: text without case and surrounding whitespace, phones by digits),
  or, on a linked record of a module with `on_link: fill_empty`, the differing target value is
  one that linking kept (a field not empty in the target: the sync leaves it until the source
  edits it, and such an edit is synced live, not by a plan; the sample names it under `kept`);
- `rejected` (counted beside the kinds): the transform refuses the record, e.g. an amount in a
  currency the target lacks under `currency: reject`: the sync would dead-letter it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orgsync_kernel.events import Write
from orgsync_kernel.settings import ModuleRoute
from pipeline.sync.binding import comparable, is_empty, resolve

KINDS = ("create", "link", "update", "unchanged", "ambiguous")
SAMPLES = 3  # per kind and module
LIST_PAGE, BY_ID = 200, 100  # records per list page and per read by id or query


def differences(mapped: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    """Per field the sync would change: {"from": the target's value, "to": the new one}."""
    return {
        name: {"from": target.get(name), "to": value}
        for name, value in mapped.items()
        if comparable(value) != comparable(target.get(name))
    }


@dataclass
class ModulePlan:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, kind: str, sample: dict[str, Any]) -> None:
        self.counts[kind] += 1
        kept = self.samples.setdefault(kind, [])
        if len(kept) < SAMPLES:
            kept.append(sample)

    def merge(self, other: ModulePlan) -> None:
        for kind, count in other.counts.items():
            self.counts[kind] += count
        for kind, samples in other.samples.items():
            kept = self.samples.setdefault(kind, [])
            kept += samples[: SAMPLES - len(kept)]


def kept(changes: Mapping[str, Any], mapping: ModuleRoute) -> dict[str, Any]:
    """The differences that linking kept (`on_link: fill_empty`: target values not empty)."""
    if mapping.on_link != "fill_empty":
        return {}
    return {name: c for name, c in changes.items() if not is_empty(c["from"])}


def plan_linked(
    writes: Sequence[Write],
    targets: Mapping[str, Mapping[str, Any]],
    mapping: ModuleRoute,
    plan: ModulePlan,
) -> None:
    """Writes whose source record has a link (`target_id`), with the target records by id; a
    linked record missing from the target would be created again."""
    for write in writes:
        target = targets.get(str(write.target_id))
        if target is None:
            plan.add("create", {"source_id": write.source_id, "record": write.record})
        else:
            _found(write, target, plan, mapping)


def plan_unlinked(
    writes: Sequence[Write],
    rows: Sequence[Mapping[str, Any]],
    mapping: ModuleRoute,
    plan: ModulePlan,
) -> None:
    """Writes without a link, with the target rows one query found for them (their match
    values and, with `link_existing`, their keys)."""
    match = mapping.match_field
    by_match = {comparable(row.get(match)): row for row in rows if comparable(row.get(match))}
    resolution = resolve(writes, rows, mapping) if mapping.link_existing else None
    binds = {w.source_id: w for w in resolution.binds} if resolution else {}
    ambiguous = {w.source_id: ids for w, ids in resolution.ambiguous} if resolution else {}
    for write in writes:
        found = by_match.get(comparable(write.record.get(match)))
        if found is not None:
            _found(write, found, plan)
        elif write.source_id in binds:
            bound = binds[write.source_id]
            plan.add(
                "link",
                {
                    "source_id": write.source_id,
                    "target_id": bound.target_id,
                    "sends": {k: v for k, v in bound.record.items() if k != "id"},
                },
            )
        elif write.source_id in ambiguous:
            plan.add(
                "ambiguous",
                {"source_id": write.source_id, "candidates": ambiguous[write.source_id]},
            )
        else:
            plan.add("create", {"source_id": write.source_id, "record": write.record})


def _found(
    write: Write,
    target: Mapping[str, Any],
    plan: ModulePlan,
    mapping: ModuleRoute | None = None,
) -> None:
    """A found target record: `update` when a mapped field differs, unless linking kept
    every difference (`mapping` given: the record is linked)."""
    changed = differences(write.record, target)
    held = kept(changed, mapping) if mapping is not None else {}
    sample: dict[str, Any] = {"source_id": write.source_id, "target_id": str(target.get("id"))}
    if len(held) < len(changed):
        plan.add("update", {**sample, "changes": changed})
    else:
        plan.add("unchanged", {**sample, "kept": held} if held else sample)


def sync_credits(counts: Mapping[str, int], many_fields: bool, linking: bool) -> dict[str, int]:
    """What the sync of one module would spend at most: the source's list pages (and reads by
    id when a page cannot carry every field), the target's writes (1 credit per 10 records) and
    `link_existing` queries (one per 100 records without a link)."""
    records = sum(counts.values())
    source = math.ceil(records / LIST_PAGE) + (math.ceil(records / BY_ID) if many_fields else 0)
    # A first sync writes the unchanged records too (it has no state yet): an upper bound.
    writes = counts["create"] + counts["link"] + counts["update"] + counts["unchanged"]
    target = math.ceil(writes / 10)
    unlinked = counts["create"] + counts["link"] + counts["ambiguous"]
    if linking:
        target += math.ceil(unlinked / BY_ID)
    return {"source": source, "target": target}
