"""The safety nets of two-way routes: the loop guard quarantines a flip-flop, not people's
edits; the divergence tracker re-reads pairs that still differ and counts the ones that stay."""

from __future__ import annotations

from pipeline.sync.divergence import Divergence
from pipeline.sync.loops import LoopGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_edits_right_after_orgsync_wrote_the_field_again_and_again_quarantine_the_pair() -> None:
    clock = Clock()
    guard = LoopGuard(
        limit=3, window_seconds=60, echo_seconds=5, quarantine_seconds=600, clock=clock
    )
    for n in range(3):
        guard.wrote("b/Leads/1", ["Phone"])
        clock.now += 1
        started = guard.edited("b/Leads/1", ["Phone"], partners=["a/Leads/9"])
        assert started is (n == 2)
    assert guard.quarantined("b/Leads/1") and guard.quarantined("a/Leads/9")
    assert guard.held() == ["a/Leads/9", "b/Leads/1"]
    clock.now += 601
    assert guard.held() == []


def test_people_s_edits_do_not_quarantine() -> None:
    clock = Clock()
    guard = LoopGuard(limit=2, echo_seconds=5, clock=clock)
    guard.wrote("b/Leads/1", ["Phone"])
    clock.now += 1
    assert not guard.edited("b/Leads/1", ["Company"])  # another field than orgsync wrote
    clock.now += 10
    assert not guard.edited("b/Leads/1", ["Phone"])  # long after the write
    assert not guard.edited("b/Leads/2", ["Phone"])  # a record orgsync did not write
    assert not guard.quarantined("b/Leads/1")


def test_a_pair_that_differs_is_read_again_then_counted_and_named_once() -> None:
    clock = Clock()
    pairs = Divergence(recheck_seconds=10, settle_seconds=60, clock=clock)
    pairs.compared("a/Leads/1", "b/Leads/2", ["Phone", "Company"], ["Phone"])
    assert pairs.due() == [] and pairs.diverged() == []
    clock.now += 10
    assert pairs.due() == ["a/Leads/1"] and pairs.due() == []
    clock.now += 50
    assert pairs.diverged() == [("a/Leads/1", "b/Leads/2", ["Phone"])]
    assert pairs.newly_diverged() == [("a/Leads/1", "b/Leads/2", ["Phone"])]
    assert pairs.newly_diverged() == []


def test_a_comparison_from_either_side_that_agrees_clears_the_pair() -> None:
    pairs = Divergence(settle_seconds=0, clock=Clock())
    pairs.compared("a/Leads/1", "b/Leads/2", ["Phone", "Company"], ["Phone", "Company"])
    pairs.compared("b/Leads/2", "a/Leads/1", ["Phone"], [])  # Phone written back
    assert pairs.diverged() == [("a/Leads/1", "b/Leads/2", ["Company"])]
    pairs.compared("a/Leads/1", "b/Leads/2", ["Company"], [])
    assert pairs.diverged() == []
