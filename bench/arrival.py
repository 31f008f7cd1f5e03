"""Did every record arrive, once, with its last values? And what did orgsync do meanwhile?

The target is read whole through the emulator's unmetered ``/__emulator/orgs/{org}/records``
(the API's own listings stop at Zoho's 100,000-record page-token cap, so a burst of 300,000
could not be counted through them, and a count through orgsync's own listing code would trust
what is under test). ``orgsync_counts`` reads the process's ``/metrics`` before it stops: the
notifications the ingress answered 503, the hints by source (notification, poll, refused),
the dead letters, and its calls on the source by kind (the poller's listings, reads by id).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from .processes import Admin
from .scenario import MATCH_FIELD, SOURCE, TARGET


@dataclass(frozen=True)
class TargetView:
    """The target's Leads that carry a source id."""

    target_of: dict[str, str]  # target id -> source id
    final: dict[str, str]  # source id -> Description (version marker)
    copies: Counter[str]  # source id -> target records carrying it


async def observe(admin: Admin) -> TargetView:
    rows = await admin.records(TARGET, "Leads", [MATCH_FIELD, "Description"])
    mine = [r for r in rows if r.get(MATCH_FIELD)]
    return TargetView(
        target_of={str(r["id"]): str(r[MATCH_FIELD]) for r in mine},
        final={str(r[MATCH_FIELD]): str(r.get("Description")) for r in mine},
        copies=Counter(str(r[MATCH_FIELD]) for r in mine),
    )


def verdict(expected: Mapping[str, str], view: TargetView) -> dict[str, int]:
    """Source records missing from the target, present with another version, present more
    than once (the extra copies), and target records of no record the workload wrote."""
    missing = sum(1 for rid in expected if rid not in view.final)
    wrong = sum(1 for rid, v in expected.items() if rid in view.final and view.final[rid] != v)
    return {
        "missing": missing,
        "wrong_version": wrong,
        "duplicated": sum(n - 1 for n in view.copies.values() if n > 1),
        "unexpected": sum(1 for rid in view.copies if rid not in expected),
    }


Samples = Mapping[tuple[str, frozenset[Any]], float]


async def metrics(session: aiohttp.ClientSession, url: str) -> Samples:
    """``(sample name, labels) -> value`` of a Prometheus text page."""
    async with session.get(url) as response:
        response.raise_for_status()
        text = await response.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(found: Samples, name: str, **labels: str) -> int:
    want = set(labels.items())
    return int(sum(v for (n, ls), v in found.items() if n == name and want <= ls))


def orgsync_counts(found: Samples) -> dict[str, Any]:
    """What the run's figures need of orgsync's metrics: its HTTP attempts on the source by
    kind (``records.list``: the poller's listings; ``records.get``: reads by id)."""
    calls = "orgsync_zoho_calls_total"
    hints = {
        source: total(found, "orgsync_hints_total", org=SOURCE, source=source)
        for source in ("notification", "webhook", "poll", "refused", "lookup")
    }
    return {
        "ingress_503": total(found, "orgsync_ingress_rejected_total", reason="kafka_unavailable"),
        "hints": hints,
        "dead_letters": total(found, "orgsync_dead_letters_total"),
        "fetch_calls": total(found, calls, org=SOURCE, kind="records.get"),
        "poller_list_calls": total(found, calls, org=SOURCE, kind="records.list"),
        "poller_errors": total(found, "orgsync_poller_errors_total"),
    }
