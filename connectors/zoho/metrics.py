"""Prometheus metrics of the Zoho client, created against an injected registry.

Labels are bounded: ``org`` (configured orgs), ``kind`` (the fixed ``KINDS`` below) and
``outcome`` (the fixed ``OUTCOMES``).  Module names and record ids are never labels.
"""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from orgsync_kernel.metrics import counter, create_metrics, gauge, histogram

KINDS = (
    "records.get",
    "records.list",
    "records.deleted",
    "records.write",
    "records.delete",
    "records.query",
    "metadata",
    "notifications",
    "attachments",
)
OUTCOMES = ("ok", "throttled", "server_error", "client_error", "auth", "transport")


class ZohoMetrics(NamedTuple):
    calls: Counter
    credits: Counter
    latency: Histogram
    throttled: Counter
    token_refreshes: Counter
    token_refreshed_at: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ZohoMetrics:
        """Metrics on ``registry``; a fresh private registry when none is given."""
        return create_metrics(
            cls,
            registry,
            calls=counter(
                "orgsync_zoho_calls_total",
                "Zoho API HTTP attempts by outcome",
                "org",
                "kind",
                "outcome",
            ),
            credits=counter(
                "orgsync_zoho_credits_total",
                "Zoho API credits spent (by our own count)",
                "org",
                "kind",
            ),
            latency=histogram(
                "orgsync_zoho_call_latency_seconds",
                "Latency of one Zoho API HTTP attempt",
                ["org", "kind"],
                (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            ),
            throttled=counter(
                "orgsync_zoho_throttled_total",
                "Zoho answers of HTTP 429 TOO_MANY_REQUESTS",
                "org",
                "kind",
            ),
            token_refreshes=counter(
                "orgsync_zoho_token_refreshes_total",
                "Access-token refresh attempts at the accounts server",
                "org",
                "outcome",
            ),
            token_refreshed_at=gauge(
                "orgsync_zoho_token_refresh_timestamp_seconds",
                "When an access-token refresh last ended with this outcome",
                "org",
                "outcome",
            ),
        )
