"""Refused hints on disk: what the ingress answered 503 survives a restart until produced."""

from __future__ import annotations

from pathlib import Path

from connectors.ingress.refusals import RefusalJournal, Refusals

A, B, C = (b"alpha/Leads/1", b'{"id":"1"}'), (b"alpha/Leads/2", b'{"id":"2"}'), (b"k3", b"v3")


def restarted(directory: Path, limit: int = 100) -> Refusals:
    return Refusals(limit=limit, journal=RefusalJournal(directory))


def test_held_hints_come_back_after_a_restart_until_their_produce_is_settled(
    tmp_path: Path,
) -> None:
    first = restarted(tmp_path)
    first.add("alpha", "Leads", [A, B], at=10.0)
    first.add("alpha", "Notes", [C], at=11.0)
    second = restarted(tmp_path)  # the ingress restarted before its poller ran
    assert second.take("alpha", "Leads") == [A, B] and second.take("alpha", "Notes") == [C]
    third = restarted(tmp_path)  # taken but not yet acknowledged: still there
    assert third.take("alpha", "Leads") == [A, B]
    third.add("alpha", "Leads", [C], at=12.0)  # refused while the poll produced
    third.settle("alpha", "Leads")  # what third took was acknowledged
    fourth = restarted(tmp_path)
    assert fourth.take("alpha", "Leads") == [C]  # only what came after the take
    assert fourth.take("alpha", "Notes") == [C]  # another module's file is untouched


def test_a_refusal_not_held_is_kept_until_a_poll_that_listed_from_before_it_completed(
    tmp_path: Path,
) -> None:
    first = restarted(tmp_path, limit=1)
    first.add("alpha", "Leads", [A, B], at=20.0)  # B is dropped: list from before 20
    first.add("alpha", "Leads", [C], at=10.0)  # earlier, dropped too
    assert len(first) == 1 and first.dropped == 2
    assert restarted(tmp_path, limit=1).lost_since("alpha", "Leads") == 10.0
    assert first.lost_since("alpha", "Leads") == 10.0  # a poll lists from before it ...
    assert first.take("alpha", "Leads") == [A]
    first.settle("alpha", "Leads")  # ... produces the held hint, then fails half-way
    assert restarted(tmp_path, limit=1).lost_since("alpha", "Leads") == 10.0
    first.settle("alpha", "Leads", confirmed=True)  # the poll completed
    after = restarted(tmp_path, limit=1)
    assert after.lost_since("alpha", "Leads") is None and after.take("alpha", "Leads") == []
    assert list(tmp_path.glob("*.jsonl")) == []  # nothing held: no file


def test_a_line_cut_short_by_a_crash_is_skipped_and_the_limit_holds_on_reload(
    tmp_path: Path,
) -> None:
    first = restarted(tmp_path)
    first.add("alpha", "Leads", [A], at=1.0)
    first.add("alpha", "Leads", [B, C], at=2.0)
    [path] = tmp_path.glob("*.jsonl")
    path.write_bytes(path.read_bytes()[:-7])  # the last append cut short
    assert restarted(tmp_path).take("alpha", "Leads") == [A]
    first.add("alpha", "Leads", [B, C], at=3.0)
    assert len(restarted(tmp_path, limit=2)) == 2


def test_without_a_journal_nothing_is_written(tmp_path: Path) -> None:
    refusals = Refusals()
    refusals.add("alpha", "Leads", [A], at=1.0)
    refusals.settle("alpha", "Leads", confirmed=True)
    assert refusals.take("alpha", "Leads") == [A] and list(tmp_path.iterdir()) == []
