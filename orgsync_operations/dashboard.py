"""What the status page shows, assembled from the sampler, Kafka and the registry (no HTML).

Sources:
    figures    this process's metrics registry, read by metric name
    snapshots  the sampler's last hour of those figures and of the topics' offsets
    kafka      credits and channels followed in Kafka (KafkaState)
    topics     the topics' offsets as of this request (offsets.topic_stats)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.kafka.credit_share import Presence
from connectors.zoho.limits import hms
from orgsync_kernel.settings import Route, Settings
from orgsync_operations.charts import Chart, line_chart
from orgsync_operations.dlq import Entry
from orgsync_operations.health import gauge, health
from orgsync_operations.kafka_state import TOPIC_END, TOPIC_LAG, KafkaState
from orgsync_operations.offsets import TopicStat
from orgsync_operations.sampler import (
    Samples,
    Series,
    Snapshot,
    label_values,
    level,
    quantile,
    rate,
    total,
)

HOUR, DAY = 3600.0, 86400.0
DLQ_ROWS = 20
FAILED = {"outcome": "failed"}
HERE = "This process's metrics (the worker's too when it runs here, --role all)."


def per_minute(series: Series) -> Series:
    return [(at, value * 60) for at, value in series]


@dataclass(frozen=True)
class Sources:
    settings: Settings
    figures: Samples
    snapshots: Sequence[Snapshot]
    kafka: KafkaState
    topics: Mapping[str, TopicStat]
    now: float


def charts(s: Sources) -> list[Chart]:
    settings, snaps, start, now = s.settings, s.snapshots, s.now - HOUR, s.now
    orgs, targets = sorted(settings.orgs), settings.targets
    changes, dlq = settings.topics.changes, settings.topics.dlq
    last = snaps[-1].samples if snaps else {}

    def chart(title: str, unit: str, series: Mapping[str, Series], source: str) -> Chart:
        return line_chart(title, unit, series, start=start, end=now, source=source)

    return [
        chart(
            "Changes",
            "per second",
            {"all workers": rate(snaps, TOPIC_END, topic=changes)},
            f"Kafka: messages logged to {changes}.",
        ),
        chart(
            "Records written",
            "per second",
            {t: rate(snaps, "orgsync_writes_total", FAILED, target=t) for t in targets},
            HERE,
        ),
        chart(
            "End-to-end latency",
            "seconds, source change to target write",
            {
                "p50": quantile(snaps, "orgsync_e2e_latency_seconds", 0.5),
                "p99": quantile(snaps, "orgsync_e2e_latency_seconds", 0.99),
            },
            HERE,
        ),
        chart(
            "Consumer lag",
            "messages",
            {t: level(snaps, TOPIC_LAG, topic=t) for t in label_values(last, TOPIC_LAG, "topic")},
            "Kafka: end offsets minus the pipeline's committed offsets.",
        ),
        chart(
            "API credits spent",
            "per minute",
            {org: s.kafka.credits_per_minute(org, start, now) for org in orgs},
            f"Kafka: every process's spend ({settings.topics.credits}); survives a restart.",
        ),
        chart(
            "API credits remaining",
            "credits in the rolling 24 h",
            {org: level(snaps, "orgsync_zoho_credits_remaining", org=org) for org in orgs},
            "This process's credit ledgers.",
        ),
        chart(
            "HTTP 429 from Zoho",
            "per minute",
            {org: per_minute(rate(snaps, "orgsync_zoho_throttled_total", org=org)) for org in orgs},
            HERE,
        ),
        chart(
            "Dead letters",
            "per minute",
            {"all stages": per_minute(rate(snaps, TOPIC_END, topic=dlq))},
            f"Kafka: messages written to {dlq}.",
        ),
    ]


def route_row(s: Sources, route: Route, open_entries: int) -> dict[str, Any]:
    writes = s.topics.get(s.settings.topics.writes(route.target))
    return {
        "name": route.name,
        "modules": ", ".join(sorted(route.modules)),
        "changes": int(total(s.figures, "orgsync_changes_total", org=route.source)),
        "written": int(total(s.figures, "orgsync_writes_total", FAILED, target=route.target)),
        "dead_letters": int(total(s.figures, "orgsync_dead_letters_total", route=route.name)),
        "open": open_entries,
        "lag": "—" if writes is None or writes.lag is None else writes.lag,
        "last_queued": writes.newest if writes else None,
    }


def credit_row(s: Sources, org: str) -> dict[str, Any]:
    remaining = gauge(s.figures, "orgsync_zoho_credits_remaining", org=org)
    budget = gauge(s.figures, "orgsync_zoho_credits_budget", org=org)
    return {
        "org": org,
        "hour": s.kafka.credits_spent(org, s.now - HOUR),
        "day": s.kafka.credits_spent(org, s.now - DAY),
        "remaining": "—" if remaining is None else int(remaining),
        "budget": "—" if budget is None else int(budget),
        "throttled": total(s.figures, "orgsync_zoho_throttled_total", org=org),
        **presence_cells(s.kafka.presence(org, s.now), s.now),
    }


def presence_cells(present: Sequence[Presence], now: float) -> dict[str, str]:
    """Who shares the org's slots (`worker ×2, backfill`), and who waits at the reserve."""
    roles: dict[str, int] = {}
    for p in present:
        roles[p.role] = roles.get(p.role, 0) + 1
    held = [
        f"{p.role}: resumes in {hms(p.resumes_at - now)} at the earliest"
        for p in present
        if p.resumes_at is not None
    ]
    return {
        "processes": ", ".join(f"{r} ×{n}" if n > 1 else r for r, n in roles.items()) or "—",
        "held": "; ".join(held) or "—",
    }


def dashboard(s: Sources, entries: Sequence[Entry]) -> dict[str, Any]:
    """The status template's context."""
    settings = s.settings
    return {
        "now": s.now,
        "sampled_since": s.snapshots[0].at if s.snapshots else None,
        "charts": charts(s),
        "health": health(settings, s.figures, s.kafka.channels(), s.topics, s.now),
        "routes": [
            route_row(s, r, sum(1 for e in entries if e.letter.route == r.name))
            for r in settings.sync
        ],
        "credits": [credit_row(s, org) for org in sorted(settings.orgs)],
        "credits_topic": settings.topics.credits,
        "topics": s.topics,
        "dlq_open": len(entries),
        "dlq": [e.summary() for e in entries[:DLQ_ROWS]],
    }
