"""Prometheus metrics of the pipeline (fetch, processor, sink), created against a given registry.

Labels are bounded: org and target are configured orgs, module a synced module, reason and
outcome fixed words. Record ids are never labels.
"""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class PipelineMetrics(NamedTuple):
    fetch_calls: Counter
    changes: Counter
    drops: Counter
    writes: Counter
    sink_retries: Counter
    dead_letters: Counter
    e2e_latency: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> PipelineMetrics:
        """Metrics on `registry`; a fresh private registry when none is given."""
        reg = registry if registry is not None else CollectorRegistry(auto_describe=True)
        return cls(
            fetch_calls=Counter("orgsync_fetch_calls_total",
                                "get_by_ids calls of the fetch stage", ["org"], registry=reg),
            changes=Counter("orgsync_changes_total", "Changes produced by the fetch stage",
                            ["org", "operation"], registry=reg),
            drops=Counter("orgsync_dropped_changes_total",
                          "Changes or route writes dropped (duplicate, stale, echo, ...)",
                          ["org", "reason"], registry=reg),
            writes=Counter("orgsync_writes_total", "Records written to target orgs",
                           ["target", "module", "outcome"], registry=reg),
            sink_retries=Counter("orgsync_sink_retries_total",
                                 "Batches retried by a sink after a transient failure",
                                 ["target"], registry=reg),
            dead_letters=Counter("orgsync_dead_letters_total", "Records sent to the DLQ",
                                 ["route", "stage"], registry=reg),
            e2e_latency=Histogram("orgsync_e2e_latency_seconds",
                                  "Source Modified_Time to target write acknowledged",
                                  ["target"], buckets=LATENCY_BUCKETS, registry=reg),
        )
