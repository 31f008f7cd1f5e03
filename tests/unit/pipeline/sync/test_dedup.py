from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orgsync_kernel.events import parse_instant
from pipeline.sync.dedup import (
    Decision,
    Fingerprint,
    Verdict,
    decide,
)

T0 = "2024-02-19T18:30:23+05:30"  # the same instant as T0_UTC
T0_UTC = "2024-02-19T13:00:23+00:00"
T1 = "2024-02-19T18:30:24+05:30"  # one second later
T_MINUS = "2024-02-19T02:00:22-11:00"  # one second earlier, other offset


def fp(time: str | None, content: str) -> Fingerprint:
    return Fingerprint(time, content)


@pytest.mark.parametrize(
    ("previous", "incoming", "verdict", "store"),
    [
        (None, fp(T0, "a"), Verdict.ACCEPT, fp(T0, "a")),
        (fp(T0, "a"), fp(T1, "b"), Verdict.ACCEPT, fp(T1, "b")),
        # two genuine edits within one second both get through
        (fp(T0, "a"), fp(T0, "b"), Verdict.ACCEPT, fp(T0, "b")),
        (fp(T0, "a"), fp(T0_UTC, "b"), Verdict.ACCEPT, fp(T0_UTC, "b")),
        # the same change reported again (webhook, notification, poll)
        (fp(T0, "a"), fp(T0, "a"), Verdict.DUPLICATE, None),
        (fp(T0, "a"), fp(T0_UTC, "a"), Verdict.DUPLICATE, None),
        # newer time, same mapped content (an unsynced field changed): nothing to write
        (fp(T0, "a"), fp(T1, "a"), Verdict.DUPLICATE, fp(T1, "a")),
        # older than what was processed, whatever the content
        (fp(T0, "a"), fp(T_MINUS, "b"), Verdict.STALE, None),
        (fp(T0, "a"), fp(T_MINUS, "a"), Verdict.STALE, None),
        # without times only the content decides
        (fp(None, "a"), fp(T0, "a"), Verdict.DUPLICATE, fp(T0, "a")),
        (fp(T0, "a"), fp(None, "a"), Verdict.DUPLICATE, None),
        (fp(T0, "a"), fp(None, "b"), Verdict.ACCEPT, fp(None, "b")),
    ],
)
def test_decide(
    previous: Fingerprint | None, incoming: Fingerprint, verdict: Verdict, store: Fingerprint | None
) -> None:
    decision = decide(previous, incoming)
    assert decision == Decision(verdict, store)
    assert decision.accept is (verdict is Verdict.ACCEPT)


BASE = datetime(2024, 1, 1, tzinfo=UTC)
OFFSETS = st.sampled_from(["+05:30", "-11:00", "+00:00", "+09:00"])


def zoho_time(seconds: int, offset: str) -> str:
    sign = 1 if offset[0] == "+" else -1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:]))
    local = (BASE + timedelta(seconds=seconds)).replace(tzinfo=None) + sign * delta
    return local.isoformat() + offset


@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    OFFSETS,
    OFFSETS,
    st.sampled_from("ab"),
    st.sampled_from("ab"),
)
def test_decide_properties(s1: int, s2: int, o1: str, o2: str, h1: str, h2: str) -> None:
    previous, incoming = fp(zoho_time(s1, o1), h1), fp(zoho_time(s2, o2), h2)
    assert previous.instant == BASE + timedelta(seconds=s1)
    decision = decide(previous, incoming)
    if s2 < s1:
        assert decision.verdict is Verdict.STALE
    elif h1 == h2:
        assert decision.verdict is Verdict.DUPLICATE
    else:
        assert decision.accept and decision.store == incoming
    if decision.store is not None:
        assert decide(decision.store, incoming).verdict is Verdict.DUPLICATE


def test_a_burst_of_reports_lets_each_distinct_change_through_once() -> None:
    reports = [
        fp(T0, "a"),
        fp(T0, "a"),
        fp(T0, "b"),
        fp(T0, "b"),
        fp(T_MINUS, "z"),
        fp(T1, "c"),
        fp(T1, "c"),
        fp(T0, "b"),
    ]
    state, accepted = None, []
    for report in reports:
        decision = decide(state, report)
        state = decision.store or state
        if decision.accept:
            accepted.append(report.content_hash)
    assert accepted == ["a", "b", "c"]


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01T00:00:00Z", ""])
def test_fingerprint_refuses_bad_times(bad: str) -> None:
    with pytest.raises(ValueError):
        Fingerprint(bad, "a")


def test_fingerprint_round_trip_and_naive_times_are_utc() -> None:
    print_ = Fingerprint(T0, "abc")
    assert Fingerprint.from_dict(print_.to_dict()) == print_
    assert parse_instant("2024-02-19T13:00:23") == parse_instant(T0)
