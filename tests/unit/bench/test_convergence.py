"""The convergence harness's pure parts: a seed's plan, and the verdict over the final records."""

from __future__ import annotations

import statistics
from typing import Any

from bench.convergence.plan import HUB, TWO_ORGS, Chaos, Size, make_plan
from bench.convergence.verdict import Applied, converged, judge

SIZE = Size(records_per_org=4, edit_seconds=20.0)


def test_a_seed_gives_the_same_plan_every_time_and_another_seed_another() -> None:
    assert make_plan(TWO_ORGS, SIZE, Chaos(), 7) == make_plan(TWO_ORGS, SIZE, Chaos(), 7)
    assert make_plan(TWO_ORGS, SIZE, Chaos(), 7) != make_plan(TWO_ORGS, SIZE, Chaos(), 8)


def test_every_written_value_is_unique_and_the_kill_falls_among_the_edits() -> None:
    plan = make_plan(HUB, SIZE, Chaos(), 3)
    values = [v for c in plan.creations for k, v in c.values.items() if k != HUB.key_field]
    values += [e.value for e in plan.edits]
    assert len(values) == len(set(values))
    assert plan.edits[0].at < plan.kill_at < plan.edits[-1].at
    assert all(e.field in HUB.edited and e.field != HUB.key_field for e in plan.edits)


def test_a_third_of_the_edits_are_same_field_pairs_in_two_orgs_within_a_second() -> None:
    shares = []
    for seed in range(1, 41):
        plan = make_plan(HUB, SIZE, Chaos(), seed)
        pairs: dict[int, list[Any]] = {}
        for edit in plan.edits:
            if edit.pair is not None:
                pairs.setdefault(edit.pair, []).append(edit)
        for first, second in pairs.values():
            assert (first.key, first.field) == (second.key, second.field)
            assert first.org != second.org and abs(second.at - first.at) < 1.0
        shares.append(2 * len(pairs) / len(plan.edits))
    assert 0.28 < statistics.mean(shares) < 0.39
    mean_edits = statistics.mean(len(make_plan(HUB, SIZE, Chaos(), s).edits) for s in range(40))
    assert 60 < mean_edits < 80  # 3.5 a second for 20 s


def test_routes_run_both_ways_on_every_leg() -> None:
    assert [(r["source"], r["target"]) for r in HUB.routes()] == [
        ("alpha", "beta"),
        ("beta", "alpha"),
        ("beta", "gamma"),
        ("gamma", "beta"),
    ]
    [module] = [r["modules"]["Leads"] for r in TWO_ORGS.routes()][:1]
    assert module == {"match_field": "Origin_Record_Id", "fields": list(TWO_ORGS.synced)}


def lead(key: str, **values: str) -> dict[str, Any]:
    base = {"Last_Name": key, "Company": "c", "Phone": "1", "Description": "d", "Lead_Status": "s"}
    return {**base, **values}


def created(key: str, at: float = 0.0) -> list[Applied]:
    return [
        Applied("alpha", key, name, value, at, creation=True)
        for name, value in lead(key).items()
        if name != "Last_Name"
    ]


def test_equal_orgs_holding_the_later_edit_pass_every_check() -> None:
    history = [*created("k"), Applied("beta", "k", "Company", "beta-9", 5.0)]
    snapshot = {"alpha": [lead("k", Company="beta-9")], "beta": [lead("k", Company="beta-9")]}
    found = judge(TWO_ORGS, snapshot, ["k"], history)
    assert converged(TWO_ORGS, snapshot, ["k"])
    assert (found.differing, found.lost, found.missing, found.duplicates) == ([], [], {}, {})
    assert (found.compared, found.ruled) == (5, 1)


def test_a_lost_later_edit_a_difference_a_duplicate_and_a_stray_are_each_found() -> None:
    history = [
        *created("k"),
        *created("m"),
        Applied("alpha", "k", "Company", "alpha-7", 1.0, pair=0),
        Applied("beta", "k", "Company", "beta-8", 1.5, pair=0),  # too close: either may win
        Applied("beta", "k", "Phone", "+2-9", 6.0),  # alone: must win
    ]
    snapshot = {
        "alpha": [lead("k", Company="alpha-7"), lead("m"), lead("m")],
        "beta": [lead("k", Company="beta-8"), lead("stray")],
    }
    found = judge(TWO_ORGS, snapshot, ["k", "m"], history)
    assert not converged(TWO_ORGS, snapshot, ["k", "m"])
    assert [(d.key, d.field) for d in found.differing] == [("k", "Company"), ("m", "Last_Name")] + [
        ("m", name) for name in ("Company", "Phone", "Description", "Lead_Status")
    ]
    assert [(lost.key, lost.field, lost.expected.value) for lost in found.lost] == [
        ("k", "Phone", "+2-9")
    ] + [("m", name, value) for name, value in lead("m").items() if name != "Last_Name"]
    assert found.lost_edits == 1
    assert found.duplicates == {"alpha": {"m": 2}}
    assert found.missing == {"beta": ["m"]}
    assert found.strays == {"beta": 1}
