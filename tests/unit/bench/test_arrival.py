"""The burst's verdict: missing, other version, twice, unknown; and metrics by label."""

from __future__ import annotations

from collections import Counter

from bench.arrival import TargetView, orgsync_counts, total, verdict


def view(*rows: tuple[str, str, str]) -> TargetView:
    """Target rows (target id, source id, Description)."""
    return TargetView(
        target_of={t: s for t, s, _ in rows},
        final={s: d for _, s, d in rows},
        copies=Counter(s for _, s, _ in rows),
    )


def test_verdict_counts_each_kind_of_wrong_once() -> None:
    expected = {"1": "v2", "2": "v2", "3": "v1", "4": "v1"}
    found = view(
        ("t1", "1", "v2"),
        ("t2", "2", "v1"),
        ("t3", "3", "v1"),
        ("t3b", "3", "v1"),
        ("t9", "9", "v1"),
    )
    assert verdict(expected, found) == {
        "missing": 1,  # 4
        "wrong_version": 1,  # 2
        "duplicated": 1,  # 3 twice
        "unexpected": 1,  # 9
    }


def test_an_exact_target_is_all_zero() -> None:
    assert set(verdict({"1": "v1"}, view(("t1", "1", "v1"))).values()) == {0}


def test_totals_sum_the_samples_whose_labels_match() -> None:
    samples = {
        ("orgsync_hints_total", frozenset({("org", "a"), ("source", "poll")})): 3.0,
        ("orgsync_hints_total", frozenset({("org", "b"), ("source", "poll")})): 4.0,
        ("orgsync_hints_total", frozenset({("org", "a"), ("source", "refused")})): 5.0,
    }
    assert total(samples, "orgsync_hints_total", source="poll") == 7
    assert total(samples, "orgsync_hints_total", org="a") == 8
    assert total(samples, "orgsync_other_total") == 0


def test_poller_listings_and_reads_by_id_are_told_apart_by_kind() -> None:
    def calls(kind: str, org: str = "regional_in") -> tuple[str, frozenset[tuple[str, str]]]:
        labels = {("org", org), ("kind", kind), ("outcome", "ok")}
        return ("orgsync_zoho_calls_total", frozenset(labels))

    samples = {
        calls("records.list"): 12.0,
        calls("records.get"): 40.0,
        calls("records.list", "global_us"): 99.0,  # the target's, not the poller's
        ("orgsync_ingress_rejected_total", frozenset({("reason", "kafka_unavailable")})): 3.0,
    }
    found = orgsync_counts(samples)
    assert (found["poller_list_calls"], found["fetch_calls"], found["ingress_503"]) == (12, 40, 3)
