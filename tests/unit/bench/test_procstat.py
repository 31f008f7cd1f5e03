"""Parsing /proc for orgsync's peak RSS and CPU seconds, and other pure helpers of bench/."""

from __future__ import annotations

from bench.baselines import _after
from bench.machine import memory_gb
from bench.procstat import StatLine, descendants, parse_stat, parse_vmhwm_kib, tree_cpu_ticks
from bench.workloads import RecordBook, bump, new_lead

STAT = (
    "4242 (python3 -m (x)) S 4000 4242 4000 0 -1 4194304 100 0 0 0 "
    "150 30 7 3 20 0 3 0 12345 1000000 2000 18446744073709551615"
)


def test_parse_stat_handles_spaces_and_parentheses_in_the_name() -> None:
    assert parse_stat(STAT) == StatLine(pid=4242, ppid=4000, own_ticks=180, children_ticks=10)


def test_vmhwm() -> None:
    status = "Name:\tpython3\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1000 kB\n"
    assert parse_vmhwm_kib(status) == 123456
    assert parse_vmhwm_kib("Name:\tkthreadd\n") == 0


def test_descendants_follow_the_whole_tree() -> None:
    parents = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1}
    assert sorted(descendants(10, parents)) == [11, 12, 13]
    assert descendants(12, parents) == []


def test_tree_cpu_adds_reaped_children_and_live_descendants() -> None:
    root = StatLine(1, 0, own_ticks=100, children_ticks=40)
    kids = [StatLine(2, 1, 30, 0), StatLine(3, 2, 5, 1)]
    assert tree_cpu_ticks(root, kids) == 175


def test_memory_gb() -> None:
    assert memory_gb("MemTotal:       24684544 kB\nMemFree: 1 kB\n") == 23.5
    assert memory_gb("") == 0.0


def _entry(at: int, rid: str) -> dict[str, object]:
    return {"at_ms": at, "id": rid}


def test_log_tail_skips_the_entries_already_seen_at_the_boundary() -> None:
    entries = [_entry(5, "a"), _entry(5, "b"), _entry(5, "c"), _entry(6, "d")]
    assert _after(entries, 5, 2) == [_entry(5, "c"), _entry(6, "d")]
    assert _after(entries, 5, 0) == entries
    assert _after(entries[:2], 5, 2) == []


def test_bump_moves_the_version_marker() -> None:
    lead = new_lead(7, "run")
    assert lead["Description"] == "run v1"
    assert bump(bump(lead, "run"), "run")["Description"] == "run v3"
    assert lead["Email"] == "lead7.run@bench.example"


def test_record_book_keeps_every_version_and_the_last_one_is_expected() -> None:
    book = RecordBook()
    book.put("r1", {"Description": "v1"})
    book.put("r2", {"Description": "v1"})
    book.put("r1", {"Description": "v2"})
    assert [v["Description"] for v in book.history["r1"]] == ["v1", "v2"]
    assert book.latest("r1") == {"Description": "v2"}
    assert book.versions() == {"r1": "v2", "r2": "v1"}
