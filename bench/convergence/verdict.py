"""What the orgs hold at the end of a seed, judged against the writes the harness made (pure).

(i) every org holds the same value for every two-way field of every logical record; (ii) where
a field's last write came >= 2 s after the one before it, that write's value is the final one
(a field nobody edited keeps its value from the creation); (iii) every logical record exists
exactly once per org; (iv) the DLQ is empty; (v) orgsync writes nothing in a quiet window
after the orgs agree. `RunResult.problems()` says which failed, record by record, with each
field's write history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.convergence.plan import Topology

LATER_EDIT_GAP_S = 2.0
SHOWN = 8  # offending items listed per check

Snapshot = Mapping[str, Sequence[Mapping[str, Any]]]  # org -> its records' stored values


@dataclass(frozen=True)
class Applied:
    """A write the harness made, as Zoho acknowledged it (a creation writes every field)."""

    org: str
    key: str
    field: str
    value: str
    acked_at: float  # wall clock
    pair: int | None = None
    creation: bool = False

    def describe(self, t0: float) -> str:
        what = "created" if self.creation else "edited"
        pair = "" if self.pair is None else f", pair {self.pair}"
        return f"{self.value!r} {what} in {self.org} at {self.acked_at - t0:+.2f}s{pair}"


@dataclass(frozen=True)
class Difference:
    key: str
    field: str
    values: dict[str, list[Any]]  # org -> the values of its copies


@dataclass(frozen=True)
class LostEdit:
    key: str
    field: str
    expected: Applied
    gap_s: float
    values: dict[str, list[Any]]


@dataclass
class Findings:
    compared: int = 0  # logical record x two-way field
    differing: list[Difference] = field(default_factory=list)
    ruled: int = 0  # edited fields whose last edit came >= 2 s after the one before
    lost: list[LostEdit] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, dict[str, int]] = field(default_factory=dict)
    strays: dict[str, int] = field(default_factory=dict)  # records of no logical record

    @property
    def lost_edits(self) -> int:
        return sum(not lost.expected.creation for lost in self.lost)


def copies(topology: Topology, snapshot: Snapshot, org: str, key: str) -> list[Mapping[str, Any]]:
    return [r for r in snapshot[org] if r.get(topology.key_field) == key]


def values_of(topology: Topology, snapshot: Snapshot, key: str, name: str) -> dict[str, list[Any]]:
    return {
        org: [r.get(name) for r in copies(topology, snapshot, org, key)] for org in topology.names
    }


def agree(values: Mapping[str, list[Any]]) -> bool:
    """Every org holds the record, and all its copies hold one value."""
    return all(values.values()) and len({repr(v) for vs in values.values() for v in vs}) == 1


def converged(topology: Topology, snapshot: Snapshot, keys: Iterable[str]) -> bool:
    return all(
        agree(values_of(topology, snapshot, key, name)) for key in keys for name in topology.synced
    )


def judge(
    topology: Topology, snapshot: Snapshot, keys: Sequence[str], history: Sequence[Applied]
) -> Findings:
    found = Findings()
    writes = _by_field(history)
    for key in keys:
        for name in topology.synced:
            values = values_of(topology, snapshot, key, name)
            found.compared += 1
            if not agree(values):
                found.differing.append(Difference(key, name, values))
            _check_latest(found, key, name, values, writes.get((key, name), []))
    _count_copies(found, topology, snapshot, keys)
    return found


def _by_field(history: Sequence[Applied]) -> dict[tuple[str, str], list[Applied]]:
    writes: dict[tuple[str, str], list[Applied]] = {}
    for applied in sorted(history, key=lambda a: a.acked_at):
        writes.setdefault((applied.key, applied.field), []).append(applied)
    return writes


def _check_latest(
    found: Findings, key: str, name: str, values: dict[str, list[Any]], writes: list[Applied]
) -> None:
    if not writes:
        return
    last = writes[-1]
    gap = last.acked_at - writes[-2].acked_at if len(writes) > 1 else float("inf")
    if gap < LATER_EDIT_GAP_S:
        return
    found.ruled += not last.creation
    if any(vs != [last.value] for vs in values.values()):
        found.lost.append(LostEdit(key, name, last, gap, values))


def _count_copies(
    found: Findings, topology: Topology, snapshot: Snapshot, keys: Sequence[str]
) -> None:
    wanted = set(keys)
    for org in topology.names:
        held = Counter(r.get(topology.key_field) for r in snapshot[org])
        if missing := [k for k in keys if not held[k]]:
            found.missing[org] = missing
        if doubled := {k: n for k, n in held.items() if n > 1 and k in wanted}:
            found.duplicates[org] = doubled
        if strays := sum(n for k, n in held.items() if k not in wanted):
            found.strays[org] = strays


@dataclass
class RunResult:
    """One seed of one scenario: what was done, what the orgs hold, what failed."""

    scenario: str
    seed: int
    t0: float  # wall clock of the first edit
    edits: int
    pair_edits: int
    skipped_edits: int
    kill_at_s: float | None
    initial_sync_s: float | None  # the created records in every org; None: not within the bound
    converge_s: float | None  # after the last edit; None: not within the bound
    converge_within_s: float
    findings: Findings
    history: list[Applied]
    dlq_codes: dict[str, int]
    quiet_s: float
    quiet_writes: dict[str, int]  # "org/key" -> orgsync's writes in the quiet window
    orgsync_writes: int  # over the whole run
    notifications: dict[str, int]
    notes: list[str] = field(default_factory=list)  # timeouts, skipped edits, exit codes
    workdir: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        f = self.findings
        return not (
            self.converge_s is None
            or f.differing
            or f.lost
            or f.missing
            or f.duplicates
            or f.strays
            or self.dlq_codes
            or self.quiet_writes
        )

    def summary(self) -> str:
        f = self.findings
        converge = "no" if self.converge_s is None else f"{self.converge_s:.1f}s"
        copied = "no" if self.initial_sync_s is None else f"{self.initial_sync_s:.1f}s"
        return (
            f"{self.scenario} seed {self.seed}: {'PASS' if self.passed else 'FAIL'}; "
            f"records copied {copied}, converged {converge}; "
            f"{len(f.differing)}/{f.compared} fields differ; "
            f"later edit lost {f.lost_edits}/{f.ruled}; "
            f"missing {_total(f.missing)}, duplicates {_extra(f.duplicates)}, "
            f"strays {sum(f.strays.values())}; DLQ {sum(self.dlq_codes.values())}; "
            f"{sum(self.quiet_writes.values())} writes in the {self.quiet_s:.0f}s quiet window; "
            f"{self.edits} edits ({self.pair_edits} in same-field pairs, "
            f"{self.skipped_edits} skipped), {self.orgsync_writes} orgsync writes"
        )

    def as_row(self) -> dict[str, Any]:
        """The figures of bench/results/converge.json (the write history stays out)."""
        f = self.findings
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "passed": self.passed,
            "initial_sync_s": _round(self.initial_sync_s),
            "converge_s": _round(self.converge_s),
            "fields": f.compared,
            "differing": len(f.differing),
            "later_edit_rule": f.ruled,
            "later_edit_lost": f.lost_edits,
            "unedited_changed": len(f.lost) - f.lost_edits,
            "missing": _total(f.missing),
            "duplicates": _extra(f.duplicates),
            "strays": sum(f.strays.values()),
            "dlq": self.dlq_codes,
            "quiet_writes": sum(self.quiet_writes.values()),
            "edits": self.edits,
            "pair_edits": self.pair_edits,
            "skipped_edits": self.skipped_edits,
            "kill_at_s": _round(self.kill_at_s),
            "orgsync_writes": self.orgsync_writes,
            "notifications": self.notifications,
            "seconds": _round(self.seconds),
            "problems": [] if self.passed else self.problems(),
        }

    def problems(self) -> list[str]:
        f, lines = self.findings, [self.summary()]
        if self.converge_s is None:
            lines.append(f"(i) not converged {self.converge_within_s:.0f}s after the last edit")
        lines += _listed("(i) differing", f.differing, self._difference)
        lines += _listed("(ii) later edit not kept", f.lost, self._lost)
        lines += [f"(iii) {org} misses {_few(keys)}" for org, keys in f.missing.items()]
        lines += [f"(iii) {org} holds twice or more: {d}" for org, d in f.duplicates.items()]
        lines += [f"(iii) {org}: {n} records of no logical record" for org, n in f.strays.items()]
        if self.dlq_codes:
            lines.append(f"(iv) DLQ entries by code: {self.dlq_codes}")
        if self.quiet_writes:
            busiest = Counter(self.quiet_writes).most_common(SHOWN)
            lines.append(f"(v) orgsync wrote in the quiet window: {busiest}")
        lines += _listed("note", self.notes, str)
        if self.workdir:
            lines.append(f"logs: {self.workdir}")
        return lines

    def _difference(self, d: Difference) -> str:
        return f"{d.key}.{d.field}: {self._finals(d.values)}; {self._history(d.key, d.field)}"

    def _lost(self, lost: LostEdit) -> str:
        return (
            f"{lost.key}.{lost.field}: expected {lost.expected.describe(self.t0)} "
            f"({lost.gap_s:.1f}s after the write before), found {self._finals(lost.values)}"
        )

    def _finals(self, values: dict[str, list[Any]]) -> str:
        return ", ".join(f"{org}={vs!r}" for org, vs in values.items())

    def _history(self, key: str, name: str) -> str:
        writes = [a for a in self.history if a.key == key and a.field == name]
        writes.sort(key=lambda a: a.acked_at)
        return "writes: " + "; ".join(a.describe(self.t0) for a in writes)


def _listed(title: str, items: Sequence[Any], show: Any) -> list[str]:
    lines = [f"{title}: {show(item)}" for item in items[:SHOWN]]
    if len(items) > SHOWN:
        lines.append(f"{title}: ... and {len(items) - SHOWN} more")
    return lines


def _few(keys: Sequence[str]) -> str:
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def _total(per_org: Mapping[str, Sequence[str]]) -> int:
    return sum(len(keys) for keys in per_org.values())


def _extra(per_org: Mapping[str, Mapping[str, int]]) -> int:
    return sum(n - 1 for counts in per_org.values() for n in counts.values())


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
