"""The pure steps of the poller cursor and the backfill pages."""

from __future__ import annotations

from connectors.ingress.backfill import _advance, _seen, _State
from connectors.ingress.poller import _later

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
