"""The worker's state on disk (connectors/kafka/disk.py): trusted only after a clean stop,
one process per directory, a table's keys apart from the others'."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.kafka.compacted import CompactedTable
from connectors.kafka.disk import StateDir


def test_a_clean_stop_keeps_the_tables_and_their_offsets(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    links, states = state.open("links"), state.open("states")
    links["a"], links["b"], states["a"] = "1", {"x": 1}, [2]
    del links["b"]
    assert dict(links) == {"a": "1"} and dict(states) == {"a": [2]}
    state.close({"links": 41, "states": None})
    again = StateDir(tmp_path)
    assert again.offset("links") == 41 and again.offset("states") is None
    assert dict(again.open("links")) == {"a": "1"}
    assert dict(again.open("states")) == {}  # no offset: rebuilt from its topic


def test_without_a_clean_stop_everything_is_rebuilt(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.open("links")["a"] = "1"
    state.close({"links": 5})
    resumed = StateDir(tmp_path)  # reads and removes the checkpoint
    assert dict(resumed.open("links")) == {"a": "1"}
    resumed.close()  # a kill -9 writes nothing either
    assert StateDir(tmp_path).offsets == {}


def test_a_directory_is_held_by_one_process_and_the_next_one_takes_another(
    tmp_path: Path,
) -> None:
    first = StateDir.claim(tmp_path, None)
    with pytest.raises(BlockingIOError):
        StateDir(first.path)
    second = StateDir.claim(tmp_path, None)
    assert (first.path.name, second.path.name) == ("worker-0", "worker-1")
    first.close()
    assert StateDir.claim(tmp_path, None).path.name == "worker-0"  # found again


def test_a_compacted_table_on_disk_reads_and_writes_through(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    table = CompactedTable("t.fingerprints", followed=False, base=state.open("fingerprints-0"))
    table["k"] = {"r": 1}
    table.apply(b"j", b'{"r": 2}', own=True, offset=7)
    assert table["k"] == {"r": 1} and table["j"] == {"r": 2} and table.offset == 7
    assert state.open("fingerprints-0").get("j") == {"r": 2}  # on disk, not in memory


def test_the_front_cache_answers_what_the_store_holds_and_stays_within_its_budget(
    tmp_path: Path,
) -> None:
    state = StateDir(tmp_path, cache_bytes=8 << 20)
    links = state.open("links")
    assert links.get("a") is None  # absent, and known absent
    links["a"] = {"x": 1}
    assert links["a"] == {"x": 1} and "a" in links
    links.put_raw("a", b'{"x": 2}')  # read back from the topic: decoded when read
    assert links["a"] == {"x": 2}
    del links["a"]
    assert links.get("a") is None and "a" not in links
    for n in range(50_000):
        links[str(n)] = n
    front = state.front
    assert len(front.young) + len(front.old) < 50_000 and front.budget == (8 << 20) // 4
    assert links["0"] == 0 and links["49999"] == 49_999  # the oldest from the store again
    links.clear()
    assert links.get("49999") is None and dict(links) == {}


def test_the_store_keeps_without_its_write_ahead_log_across_a_clean_stop(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.open("links")["a"] = "1"
    state.close({"links": 3})
    assert dict(StateDir(tmp_path).open("links")) == {"a": "1"}
