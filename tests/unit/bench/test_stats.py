"""Percentiles, credit arithmetic, physical limits and log matching of the benchmark."""

from __future__ import annotations

import pytest

from bench import stats as st


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([5.0], 50, 5.0),
        ([1, 2, 3, 4], 50, 2.0),
        ([1, 2, 3, 4], 95, 4.0),
        (list(range(1, 101)), 99, 99.0),
        (list(range(1, 101)), 95, 95.0),
        ([40, 10, 30, 20], 50, 20.0),  # order of input does not matter
    ],
)
def test_nearest_rank_percentile(values: list[float], pct: float, expected: float) -> None:
    assert st.percentile(values, pct) == expected


def test_percentile_of_nothing_is_none_and_bad_pct_is_refused() -> None:
    assert st.percentile([], 50) is None
    with pytest.raises(ValueError):
        st.percentile([1.0], 0)


@pytest.mark.parametrize(("records", "credits"), [(1, 1), (10, 1), (11, 2), (99, 10), (100, 10)])
def test_write_credits_one_per_ten_records(records: int, credits: int) -> None:
    assert st.write_credits(records) == credits


def test_workload_credits_sum_their_batches() -> None:
    assert st.workload_credits([100, 100, 1, 35]) == 10 + 10 + 1 + 4
    with pytest.raises(ValueError):
        st.write_credits(0)


def test_physical_limits_at_100_ms() -> None:
    limits = st.PhysicalLimits.for_latency(100)
    assert limits.calls_per_record == pytest.approx(0.02)
    assert limits.credits_per_record == pytest.approx(0.11)
    assert limits.throughput_bound == pytest.approx(10_000)
    assert st.PhysicalLimits.for_latency(250).throughput_bound == pytest.approx(4_000)


def _stats(
    calls: dict[str, dict[str, int]], refreshes: dict[str, int], credits: int, throttled: int = 0
) -> dict[str, object]:
    return {
        "orgs": {
            "a": {
                "calls": calls,
                "token_refreshes": refreshes,
                "credits_used": credits,
                "throttled": throttled,
            }
        }
    }


def test_client_usage_counts_only_the_named_clients() -> None:
    before = _stats({"x": {"GET /crm/v7/Leads": 2}}, {"x": 1}, 5)
    after = _stats(
        {
            "x": {"GET /crm/v7/Leads": 5, "POST /crm/v7/Leads/upsert": 4},
            "other": {"GET /crm/v7/Leads": 100},
        },
        {"x": 2, "other": 9},
        50,
        3,
    )
    assert st.client_usage(before, after, "a", ["x"]) == st.ClientUsage(calls=7, refreshes=1)
    assert st.org_delta(before, after, "a", "credits_used") == 45
    assert st.org_delta(before, after, "a", "throttled") == 3
    assert st.calls_by_path(before, after, "a", "x") == {
        "GET /crm/v7/Leads": 3,
        "POST /crm/v7/Leads/upsert": 4,
    }


def test_write_calls_are_posts_and_puts_of_the_module() -> None:
    paths = {
        "POST /crm/v8/Leads/upsert": 3,
        "PUT /crm/v8/Leads": 2,
        "GET /crm/v8/Leads": 9,
        "POST /crm/v8/actions/watch": 1,
        "POST /crm/v8/Contacts/upsert": 4,
    }
    assert st.write_calls(paths) == 5


def _log(*entries: tuple[str, int, str, str]) -> list[dict[str, object]]:
    return [
        {"module": "Leads", "id": rid, "at_ms": at, "op": op, "client_id": client}
        for rid, at, op, client in entries
    ]


def test_write_times_filter_clients_and_kinds() -> None:
    log = _log(
        ("s1", 20, "update", "w"),
        ("s1", 10, "insert", "w"),
        ("s2", 5, "insert", "x"),
        ("s3", 7, "delete", "w"),
    )
    assert st.write_times(log, ["w"]) == {"s1": [10, 20]}
    assert st.write_times(log, ["w"], ops=["insert"]) == {"s1": [10]}


def test_each_source_write_matches_the_first_target_write_at_or_after_it() -> None:
    source = {"s1": [1000, 1500], "s2": [1100]}
    target = {"t1": [1200, 1700], "t2": [1100], "t9": [5000]}
    found = st.match_latencies(source, target, {"t1": "s1", "t2": "s2"})
    assert sorted(found.latencies_ms) == [0.0, 200.0, 200.0]
    assert found.unmatched == 0
    assert (found.first_source_ms, found.last_target_ms) == (1000, 1700)


def test_a_source_write_after_the_last_target_write_is_unmatched() -> None:
    found = st.match_latencies({"s1": [1000, 3000]}, {"t1": [1200]}, {"t1": "s1"})
    assert found.latencies_ms == [200.0]
    assert found.unmatched == 1
    assert found.last_target_ms == 1200


def test_throughput_and_ratio() -> None:
    assert st.throughput(500, 1000, 3000) == pytest.approx(250)
    assert st.throughput(0, 1000, 3000) is None
    assert st.throughput(5, None, 3000) is None
    assert st.ratio(2.0, 8.0) == pytest.approx(0.25)
    assert st.ratio(2.0, 0.0) is None


def test_known_carried_versions_skip_a_write_of_an_older_version() -> None:
    # the update at 1100 is first written at 1300; the write at 1200 still carried the create
    source = {"s1": [1000, 1100]}
    target = {"t1": [1200, 1300]}
    found = st.match_latencies(source, target, {"t1": "s1"}, carried={"s1": [0, 1]})
    assert sorted(found.latencies_ms) == [200.0, 200.0]
    assert found.last_target_ms == 1300
    blind = st.match_latencies(source, target, {"t1": "s1"})
    assert sorted(blind.latencies_ms) == [100.0, 200.0]  # the lower bound without versions


def test_a_version_no_target_write_carried_is_unmatched() -> None:
    found = st.match_latencies(
        {"s1": [1000, 1100]}, {"t1": [1200]}, {"t1": "s1"}, carried={"s1": [0]}
    )
    assert found.latencies_ms == [200.0]
    assert found.unmatched == 1
