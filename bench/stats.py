"""Pure arithmetic of the benchmark: percentiles, credits, physical limits, log matching.

Nothing here does I/O; ``tests/unit/bench`` covers it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_RECORDS_PER_CALL = 100  # ids per GET and records per insert/update/upsert
SUB_CONCURRENCY = 10  # Zoho's limit for writes of more than 10 records, all editions
EDITION_CONCURRENCY: Mapping[str, int] = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least ``pct``% at or below it)."""
    if not values:
        return None
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return float(ordered[rank - 1])


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    return {f"p{p}": percentile(latencies_ms, p) for p in (50, 95, 99)}


# --- credits -------------------------------------------------------------------------------------


def write_credits(records: int) -> int:
    """Insert/update/upsert: 1 credit per 10 records, at least 1 (reference section 7)."""
    if records < 1:
        raise ValueError("a write carries at least one record")
    return -(-records // 10)


def workload_credits(batch_sizes: Iterable[int]) -> int:
    """Credits the workload generator spent on its own writes (subtracted from the source)."""
    return sum(write_credits(n) for n in batch_sizes)


@dataclass(frozen=True)
class PhysicalLimits:
    """What no sync can beat: 100 ids per read, 100 records per upsert, sub-concurrency 10."""

    calls_per_record: float
    credits_per_record: float
    throughput_bound: float  # records/s

    @classmethod
    def for_latency(cls, latency_ms: float) -> PhysicalLimits:
        per_call = 1 / MAX_RECORDS_PER_CALL
        read_credits = 1 / MAX_RECORDS_PER_CALL  # 1 credit per GET of up to 100 ids
        write = write_credits(MAX_RECORDS_PER_CALL) / MAX_RECORDS_PER_CALL
        bound = SUB_CONCURRENCY * MAX_RECORDS_PER_CALL / (latency_ms / 1000)
        return cls(2 * per_call, read_credits + write, bound)


# --- emulator stats ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientUsage:
    """One system's use of one org between two stats snapshots."""

    calls: int
    refreshes: int


def client_usage(
    before: Mapping[str, Any], after: Mapping[str, Any], org: str, clients: Iterable[str]
) -> ClientUsage:
    """Calls and token refreshes of ``clients`` in ``org`` between two /__emulator/stats."""
    calls = refreshes = 0
    for client in clients:
        calls += _total(after, org, "calls", client) - _total(before, org, "calls", client)
        refreshes += _org(after, org).get("token_refreshes", {}).get(client, 0) - _org(
            before, org
        ).get("token_refreshes", {}).get(client, 0)
    return ClientUsage(calls, refreshes)


def org_delta(before: Mapping[str, Any], after: Mapping[str, Any], org: str, key: str) -> int:
    """Difference of an org-level counter (``credits_used``, ``throttled``)."""
    return int(_org(after, org).get(key, 0)) - int(_org(before, org).get(key, 0))


def notification_delta(
    before: Mapping[str, Any], after: Mapping[str, Any], org: str
) -> dict[str, int]:
    """Notification callbacks of an org between two snapshots: sent (2xx), failed (any other
    answer, an error or the emulator's timeout) and dropped (a fault)."""
    old, new = _org(before, org).get("notifications", {}), _org(after, org).get("notifications", {})
    return {k: int(n) - int(old.get(k, 0)) for k, n in new.items()}


def _org(stats: Mapping[str, Any], org: str) -> Mapping[str, Any]:
    found: Mapping[str, Any] = stats.get("orgs", {}).get(org, {})
    return found


def _total(stats: Mapping[str, Any], org: str, key: str, client: str) -> int:
    return sum(_org(stats, org).get(key, {}).get(client, {}).values())


# --- end-to-end latency from the write logs ------------------------------------------------------


def write_times(
    log: Iterable[Mapping[str, Any]],
    clients: Iterable[str],
    module: str = "Leads",
    ops: Iterable[str] = ("insert", "update"),
) -> dict[str, list[int]]:
    """Record id -> sorted write times (ms) of the given clients' writes of the given kinds."""
    wanted, kinds = set(clients), set(ops)
    times: dict[str, list[int]] = {}
    for entry in log:
        if entry["client_id"] in wanted and entry["module"] == module and entry["op"] in kinds:
            times.setdefault(entry["id"], []).append(int(entry["at_ms"]))
    for found in times.values():
        found.sort()
    return times


@dataclass(frozen=True)
class Matched:
    latencies_ms: list[float]
    unmatched: int
    first_source_ms: int | None
    last_target_ms: int | None


def match_latencies(
    source: Mapping[str, list[int]],
    target: Mapping[str, list[int]],
    source_of_target: Mapping[str, str],
    carried: Mapping[str, Sequence[int]] | None = None,
) -> Matched:
    """Each source write -> the first target write of its record that carries it.

    ``carried[source id]`` lists, per target write of that record in time order, the index of
    the source write whose version it carried (a baseline knows: it sends the version the
    firing write left). Without it, the first target write at or after the source write is
    taken: exact when the writer reads the record after it was told of the change, a lower
    bound when a read made just before the change is written just after it (orgsync).
    Source writes that no target write carries are unmatched.
    """
    by_source: dict[str, list[int]] = {}
    for target_id, times in target.items():
        source_id = source_of_target.get(target_id)
        if source_id is not None:
            by_source.setdefault(source_id, []).extend(times)
    latencies: list[float] = []
    unmatched = 0
    last_target: int | None = None
    for source_id, writes in source.items():
        targets = sorted(by_source.get(source_id, ()))
        versions = carried.get(source_id, ()) if carried is not None else None
        for k, at in enumerate(writes):
            found = _carrier(targets, versions, k, at)
            if found is None:
                unmatched += 1
                continue
            latencies.append(float(found - at))
            last_target = found if last_target is None else max(last_target, found)
    first = min((w[0] for w in source.values() if w), default=None)
    return Matched(latencies, unmatched, first, last_target)


def _carrier(targets: list[int], versions: Sequence[int] | None, k: int, at: int) -> int | None:
    start = bisect.bisect_left(targets, at)
    for j in range(start, len(targets)):
        if versions is None or (j < len(versions) and versions[j] >= k):
            return targets[j]
    return None


def throughput(changes: int, first_ms: int | None, last_ms: int | None) -> float | None:
    """Changes per second from the first source write to the write that completed the target."""
    if first_ms is None or last_ms is None or changes == 0:
        return None
    return changes / max((last_ms - first_ms) / 1000, 0.001)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


def calls_by_path(
    before: Mapping[str, Any], after: Mapping[str, Any], org: str, client: str
) -> dict[str, int]:
    """``"METHOD /path" -> calls`` of one client between two stats snapshots."""
    old = _org(before, org).get("calls", {}).get(client, {})
    new = _org(after, org).get("calls", {}).get(client, {})
    return {key: n - old.get(key, 0) for key, n in new.items() if n - old.get(key, 0)}


def write_calls(paths: Mapping[str, int], module: str = "Leads") -> int:
    """Calls that wrote records of ``module`` (POST/PUT on the module or its upsert)."""
    total = 0
    for key, n in paths.items():
        method, _, path = key.partition(" ")
        tail = path.rstrip("/").split("/")
        if method in ("POST", "PUT") and module in tail[-2:] and "actions" not in tail:
            total += n
    return total
