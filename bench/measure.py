"""Turns one run (a system on a workload) into its measures, from the emulator's own records.

Latency: source write ``at_ms`` -> first later target write of the same record (matched by
source id through Origin_Record_Id, or the baseline's own responses). Calls, credits, token
refreshes and 429s: /__emulator/stats deltas, minus what the workload generator and the
observer (the bench's own clients) spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import stats as st
from .scenario import SOURCE, TARGET, WORKLOAD, Client
from .workloads import WorkloadRun


@dataclass
class Observation:
    """Everything collected during one run, before any arithmetic."""

    system: str
    workload: WorkloadRun
    clients: tuple[Client, ...]
    before: dict[str, Any]
    after: dict[str, Any]
    source_log: list[dict[str, Any]]
    target_log: list[dict[str, Any]]
    target_of: dict[str, str]  # target id -> source id
    expected: dict[str, str]  # source id -> final version marker
    final: dict[str, str]  # source id -> version marker found in the target
    arrival: dict[str, int] | None = None  # arrival.verdict: missing, duplicated, ...
    workload_throttled: int = 0
    observer_calls: int = 0  # observer GETs between the snapshots (1 credit each)
    observer_throttled: int = 0
    verify: bool = True  # False when the system keeps no source id in the target (seed)
    source_ops: tuple[str, ...] = ("insert", "update")  # the changes the system syncs
    carried: dict[str, list[int]] | None = None  # what each target write carried, if known
    extra: dict[str, Any] = field(default_factory=dict)


def stale(expected: Mapping[str, str], final: Mapping[str, str]) -> int:
    """Source records whose last version is not what the target holds (missing included)."""
    return sum(1 for rid, version in expected.items() if final.get(rid) != version)


def summarise(obs: Observation) -> dict[str, Any]:
    source_clients = [c.client_id for c in obs.clients if c.org == SOURCE]
    target_clients = [c.client_id for c in obs.clients if c.org == TARGET]
    matched = st.match_latencies(
        st.write_times(obs.source_log, [WORKLOAD.client_id], ops=obs.source_ops),
        st.write_times(obs.target_log, target_clients),
        obs.target_of,
        obs.carried,
    )
    synced = len(matched.latencies_ms)
    src = st.client_usage(obs.before, obs.after, SOURCE, source_clients)
    tgt = st.client_usage(obs.before, obs.after, TARGET, target_clients)
    src_credits = (
        (
            st.org_delta(obs.before, obs.after, SOURCE, "credits_used")
            - st.workload_credits(obs.workload.batch_sizes)
        )
        if source_clients
        else 0
    )
    tgt_credits = st.org_delta(obs.before, obs.after, TARGET, "credits_used") - obs.observer_calls
    throttled = (
        st.org_delta(obs.before, obs.after, SOURCE, "throttled")
        + st.org_delta(obs.before, obs.after, TARGET, "throttled")
        - obs.workload_throttled
        - obs.observer_throttled
    )
    writes = sum(
        st.write_calls(st.calls_by_path(obs.before, obs.after, TARGET, c)) for c in target_clients
    )
    written = sum(1 for e in obs.target_log if e["client_id"] in target_clients)

    def per(value: float) -> float | None:
        return value / synced if synced else None

    return {
        "system": obs.system,
        "workload": obs.workload.kind,
        "changes": obs.workload.changes,
        "records": len(obs.expected),
        "synced_changes": synced,
        "unmatched_changes": matched.unmatched,
        "stale_records": stale(obs.expected, obs.final) if obs.verify else None,
        **({"arrival": obs.arrival} if obs.verify and obs.arrival is not None else {}),
        "latency_ms": st.latency_summary(matched.latencies_ms),
        "throughput_per_s": st.throughput(synced, matched.first_source_ms, matched.last_target_ms),
        "source_calls": src.calls,
        "target_calls": tgt.calls,
        "source_credits": src_credits,
        "target_credits": tgt_credits,
        # token requests count as calls: the seed spends one per record
        "calls_per_change": per(src.calls + tgt.calls + src.refreshes + tgt.refreshes),
        "credits_per_change": per(src_credits + tgt_credits),
        "records_per_write_call": written / writes if writes else None,
        "token_refreshes": src.refreshes + tgt.refreshes,
        "throttled_429": throttled,
        "workload_seconds": round(obs.workload.seconds, 3),
        **obs.extra,
    }
