"""Prometheus metrics of the pipeline (fetch, processor, sink), created against a given registry.

Labels are bounded: org and target are configured orgs, module a synced module, reason and
outcome fixed words. Record ids are never labels.
"""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from orgsync_kernel.metrics import counter, create_metrics, gauge, histogram

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class PipelineMetrics(NamedTuple):
    fetch_calls: Counter
    changes: Counter
    drops: Counter
    writes: Counter
    sink_retries: Counter
    dead_letters: Counter
    e2e_latency: Histogram
    conflicts: Counter
    dropped_lookups: Counter
    schema_drift: Counter
    target_state: Gauge
    diverged_records: Gauge
    quarantined_records: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> PipelineMetrics:
        """Metrics on `registry`; a fresh private registry when none is given."""
        return create_metrics(
            cls,
            registry,
            fetch_calls=counter(
                "orgsync_fetch_calls_total", "get_by_ids calls of the fetch stage", "org"
            ),
            changes=counter(
                "orgsync_changes_total", "Changes produced by the fetch stage", "org", "operation"
            ),
            drops=counter(
                "orgsync_dropped_changes_total",
                "Changes or route writes dropped (duplicate, stale, echo, ...)",
                "org",
                "reason",
            ),
            writes=counter(
                "orgsync_writes_total",
                "Records written to target orgs",
                "target",
                "module",
                "outcome",
            ),
            sink_retries=counter(
                "orgsync_sink_retries_total",
                "Batches retried by a sink after a transient failure",
                "target",
            ),
            dead_letters=counter(
                "orgsync_dead_letters_total", "Records sent to the DLQ", "route", "stage"
            ),
            e2e_latency=histogram(
                "orgsync_e2e_latency_seconds",
                "Source Modified_Time to target write acknowledged",
                ["target"],
                LATENCY_BUCKETS,
            ),
            conflicts=counter(
                "orgsync_conflicts_total",
                "Fields both orgs edited, by the side whose value was kept",
                "route",
                "module",
                "field",
                "winner",
            ),
            dropped_lookups=counter(
                "orgsync_dropped_lookups_total",
                "Lookups left out: a module the route does not sync, or a user the target lacks",
                "route",
                "module",
                "field",
            ),
            schema_drift=counter(
                "orgsync_schema_drift_total",
                "Field metadata changes seen on a refresh (removed, renamed, type_changed, "
                "now_mandatory)",
                "org",
                "module",
                "kind",
            ),
            target_state=gauge(
                "orgsync_target_state",
                "1 for the state a target's writer is in (worker/targets.py TARGET_STATES)",
                "target",
                "state",
            ),
            diverged_records=gauge(
                "orgsync_diverged_records",
                "Two-way record pairs that still differ on a field both routes copy, a minute "
                "after they first did (the worker's log names each)",
            ),
            quarantined_records=gauge(
                "orgsync_quarantined_records",
                "Records not written for now: written and edited back again and again",
            ),
        )
