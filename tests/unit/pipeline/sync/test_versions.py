"""Field versions (pipeline/sync/versions.py): a total order both directions agree on, edits
made over a value beat it, policies settle only conflicts, and any delivery order converges."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.sync.versions import (
    Side,
    Version,
    after,
    decide,
    dump_sides,
    load_sides,
    newer,
    seconds,
)

T0 = seconds("2024-02-19T18:30:23+05:30")


@pytest.mark.parametrize(
    ("a", "b", "wins"),
    [
        (Version(T0 + 1, 0, "regional"), Version(T0, 0, "global"), True),  # later second
        (Version(T0, 1, "regional"), Version(T0, 0, "global"), True),  # higher tick
        (Version(T0, 0, "global"), Version(T0, 0, "regional"), True),  # tie: name sorts first
        (Version(T0, 0, "regional"), Version(T0, 0, "global"), False),
    ],
)
def test_the_order_of_versions(a: Version, b: Version, wins: bool) -> None:
    assert newer(a, b) is wins


def test_times_in_other_offsets_are_the_same_instant() -> None:
    assert seconds("2024-02-19T13:00:23+00:00") == T0
    assert seconds("2024-02-19T02:00:22-11:00") == T0 - 1


@given(st.integers(0, 3), st.integers(0, 2), st.integers(0, 3), st.integers(0, 2))
def test_exactly_one_of_two_versions_of_other_orgs_wins(s1: int, t1: int, s2: int, t2: int) -> None:
    one, other = Version(s1, t1, "a"), Version(s2, t2, "b")
    assert newer(one, other) != newer(other, one)


def test_an_edit_beats_the_value_it_replaced_even_in_the_same_second_or_a_clock_behind() -> None:
    copied = Version(T0, 0, "alpha")
    assert after(copied, T0 + 5, "beta") == Version(T0 + 5, 0, "beta")
    assert after(copied, T0, "beta") == Version(T0, 1, "beta")
    assert after(copied, T0 - 1, "beta") == Version(T0, 1, "beta")
    assert all(newer(after(copied, at, "beta"), copied) for at in (T0 - 1, T0, T0 + 5))


def test_the_encoding_leaves_out_the_record_s_own_org() -> None:
    mine, copy = Version(T0, 0, "a"), Version(T0, 2, "b")
    assert mine.encode("a") == [T0, 0] and copy.encode("a") == [T0, 2, "b"]
    assert Version.decode(mine.encode("a"), "a") == mine
    assert Version.decode(copy.encode("a"), "a") == copy
    sides = {"Phone": Side(copy, mine), "Company": Side(mine)}
    assert load_sides(dump_sides(sides)) == sides


A0, B1 = Version(T0, 0, "alpha"), Version(T0 + 1, 0, "beta")


@pytest.mark.parametrize(
    ("incoming", "target", "policy", "write", "conflict"),
    [
        (Side(A0), Side(None), "latest", True, False),  # nothing known of the target
        (Side(A0), Side(A0), "latest", False, False),  # the same version: an echo
        (Side(B1, A0), Side(A0), "target_wins", True, False),  # made over the target's value
        (Side(A0), Side(B1, A0), "source_wins", False, False),  # the target's was made over it
        (Side(A0), Side(B1), "latest", False, True),  # a conflict: the later wins
        (Side(B1), Side(A0), "latest", True, True),
        (Side(A0), Side(B1), "source_wins", True, True),
        (Side(B1), Side(A0), "target_wins", False, True),
    ],
)
def test_a_decision(incoming: Side, target: Side, policy: str, write: bool, conflict: bool) -> None:
    outcome = decide(incoming, target, policy)
    assert (outcome.write, outcome.conflict) == (write, conflict)


@given(st.integers(0, 10_000))
def test_any_order_of_deliveries_ends_with_the_greatest_version_everywhere(seed: int) -> None:
    """Three orgs in a chain, edits and copies delivered in a random order, some twice and
    some late: once every org has sent its value to its neighbours again, all hold the
    greatest version (a last-writer-wins register per field)."""
    rng = random.Random(seed)
    orgs = ["alpha", "beta", "gamma"]
    held: dict[str, Side] = {org: Side(Version(0, 0, "alpha")) for org in orgs}
    links = [("alpha", "beta"), ("beta", "alpha"), ("beta", "gamma"), ("gamma", "beta")]
    pending: list[tuple[str, str, Side]] = []
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.4:
            org = rng.choice(orgs)
            base = held[org].version
            held[org] = Side(after(base, rng.randint(0, 4), org), base)
            pending += [(src, dst, held[org]) for src, dst in links if src == org]
        elif pending:
            src, dst, sent = pending.pop(rng.randrange(len(pending)))
            if decide(sent, held[dst]).write:
                held[dst] = sent
                pending += [(d, n, sent) for d, n in links if d == dst and n != src]
    for _ in range(len(orgs)):  # anti-entropy: every org sends what it holds once more
        for src, dst in links:
            if decide(held[src], held[dst]).write:
                held[dst] = held[src]
    assert len({side.version for side in held.values()}) == 1
