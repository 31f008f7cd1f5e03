"""The pure steps of the poller cursor, its windows and the backfill pages."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from connectors.ingress.backfill import _advance, _seen, _State
from connectors.ingress.listing import DeletedSince, Seconds
from connectors.ingress.poller import Recent, _later
from connectors.ingress.refusals import Refusals
from connectors.zoho.errors import PaginationLimitExceeded

T1, T2 = "2025-01-01T10:00:00+05:30", "2025-01-01T10:00:01+05:30"


def test_cursor_moves_only_forward_and_ignores_garbage() -> None:
    assert _later(T1, T2) == T2
    assert _later(T2, T1) == T2
    assert _later(T1, "not a time") == T1
    assert _later(T1, "2025-01-01T04:30:00+00:00") == T1  # same instant, other offset


def _rec(record_id: str, when: str) -> dict[str, str]:
    return {"id": record_id, "Modified_Time": when}


def test_page_boundary_keeps_the_ids_of_its_last_second() -> None:
    state = _State("1970-01-01T00:00:00+00:00", [])
    page = [_rec("1", T1), _rec("2", T2), _rec("3", T2)]
    _advance(state, page, page, exhausted=False)
    assert (state.after, state.boundary, state.done, state.finished) == (T2, ["2", "3"], 3, False)
    assert _seen(state, _rec("2", T2)) and not _seen(state, _rec("4", T2))
    assert not _seen(state, _rec("2", "2025-01-01T10:00:09+05:30"))  # edited again: new


def test_an_exhausted_listing_finishes() -> None:
    state = _State(T1, ["1"], done=5)
    _advance(state, [_rec("1", T1)], [], exhausted=True)
    assert state.finished and state.done == 5


S0, S1, S2 = (datetime.fromisoformat(f"2025-01-01T10:00:0{n}+05:30") for n in range(3))


def _listed(*seconds: datetime) -> Seconds:
    listed = Seconds()
    for second in seconds:
        listed.see(second.isoformat())
    return listed


def test_a_refused_window_restarts_at_its_last_complete_second() -> None:
    assert _listed(S0, S1, S1, S2).restart_after(S0) == S1


def test_a_window_stuck_on_its_first_second_moves_on_only_when_that_second_was_listed() -> None:
    assert _listed(S0, S0, S1).restart_after(S0) == S1  # If-Modified-Since included S0
    with pytest.raises(PaginationLimitExceeded):
        _listed(S1, S1).restart_after(S0)  # one second held more than a listing reaches
    with pytest.raises(PaginationLimitExceeded):
        Seconds().restart_after(S0)


def _capped(*seconds: datetime) -> tuple[datetime | None, bool]:
    """Where a deleted listing refused at its cap after ``seconds`` goes on, and whether it
    left deletions out."""
    listing = DeletedSince(None, "Leads")  # type: ignore[arg-type]
    return listing._after_cap(S0, _listed(*seconds)), listing.unreached


def test_a_deleted_listing_refused_at_a_cap_goes_on_in_windows_when_listed_oldest_first() -> None:
    assert _capped(S0, S1, S1, S2) == (S1, False)  # as the records' windows


def test_a_deleted_listing_refused_at_a_cap_moves_on_and_says_what_it_left_out() -> None:
    assert _capped(S2, S1, S1, S0) == (None, True)  # newest first: older ones out of reach
    assert _capped(S1, S1) == (S1 + timedelta(seconds=1), True)  # one second past the cap


def test_a_record_listed_twice_by_one_poll_is_hinted_once_and_old_ones_are_forgotten() -> None:
    recent = Recent({}, ("org", "Leads", "modified"))
    assert recent.fresh("1", T1) and not recent.fresh("1", T1)
    assert recent.fresh("2", T2)
    settled = recent.settled(T2, timedelta(seconds=0.5))  # T1 is before the next listing
    assert settled == {"2": T2 + Recent.AGAIN}


def test_refused_hints_are_held_up_to_the_limit_then_the_refusal_time_is_kept() -> None:
    refusals = Refusals(limit=3)
    refusals.add("org", "Leads", [(b"1", b"a"), (b"2", b"b")], at=20.0)
    refusals.add("org", "Leads", [(b"3", b"c"), (b"4", b"d")], at=10.0)
    assert (len(refusals), refusals.dropped) == (3, 1)
    held = refusals.take("org", "Leads")
    assert len(held) == 3 and refusals.take("org", "Leads") == [] and len(refusals) == 0
    refusals.give_back("org", "Leads", held)
    assert len(refusals) == 3
    assert refusals.lost_since("org", "Leads") == 10.0  # its hints were not all held
    assert refusals.lost_since("org", "Leads") is None  # once


def test_a_record_listed_again_at_a_later_time_asks_for_a_listing_from_before_it() -> None:
    recent = Recent({}, ("org", "Leads", "modified"))
    assert recent.fresh("1", T1) and recent.fresh("2", T2)
    assert recent.moved_since() is None
    assert recent.fresh("1", "2025-01-01T10:00:09+05:30")  # edited while being listed
    assert recent.moved_since() == datetime.fromisoformat(T1) - timedelta(seconds=1)
    assert recent.moved_since() is None  # once


def test_a_listed_record_deleted_since_makes_the_listing_go_again_from_before_it_once() -> None:
    recent = Recent({}, ("org", "Leads", "modified"))
    assert recent.fresh("1", T2) and recent.fresh("2", T1)
    before_t1 = datetime.fromisoformat(T1) - timedelta(seconds=1)
    assert recent.left_since(["9", "1", "2"]) == before_t1  # "9" was never listed
    assert recent.left_since(["1", "2"]) is None  # listed again for them already
    assert recent.left_since([]) is None
