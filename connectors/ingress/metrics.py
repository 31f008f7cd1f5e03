"""Prometheus metrics of the ingress, created against an injected registry.

Labels are bounded: ``reason`` (the fixed ``REASONS``), ``org`` (configured orgs),
``source`` (the hint sources) and ``endpoint`` (``hooks``, ``notify``).
"""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from orgsync_kernel.metrics import counter, create_metrics, gauge, histogram

REASONS = (
    "unknown_org",  # 404
    "unauthorized",  # 401: missing or wrong secret/token
    "malformed",  # 400: not JSON/form, missing fields, bad operation
    "unknown_module",  # 400: the module is not synced for this org
    "bad_id",  # 400: a record id that is not numeric
    "too_large",  # 413
    "kafka_unavailable",  # 503
)


class IngressMetrics(NamedTuple):
    registry: CollectorRegistry
    rejected: Counter
    hints: Counter
    latency: Histogram
    poll_errors: Counter
    polled_at: Gauge
    deletions_unreached: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> IngressMetrics:
        return create_metrics(
            cls,
            registry,
            rejected=counter(
                "orgsync_ingress_rejected", "Ingress requests refused, by reason", "reason"
            ),
            hints=counter(
                "orgsync_hints", "Hints acknowledged by Kafka, by org and source", "org", "source"
            ),
            latency=histogram(
                "orgsync_ingress_request_seconds",
                "Time from request to answer, by endpoint",
                ["endpoint"],
                (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
            poll_errors=counter(
                "orgsync_poller_errors",
                "Reconciliation polls that failed (Zoho or Kafka), by org",
                "org",
            ),
            polled_at=gauge(
                "orgsync_poller_last_poll_timestamp_seconds",
                "When a reconciliation poll of the org last completed",
                "org",
            ),
            deletions_unreached=counter(
                "orgsync_poller_deletions_unreached",
                "Deleted-records listings refused at a page cap before reaching every"
                " deletion (their cursor moved on), by org",
                "org",
            ),
        )
