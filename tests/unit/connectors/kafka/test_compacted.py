"""CompactedTable: own writes are visible at once and never hidden by older values read back."""

from __future__ import annotations

import orjson

from connectors.kafka.compacted import CompactedTable


def message(value: object) -> bytes | None:
    return None if value is None else orjson.dumps(value)


def test_a_write_is_visible_at_once_and_queued() -> None:
    table = CompactedTable("t")
    table["k"] = {"v": 1}
    assert table["k"] == {"v": 1}
    assert table.take_queued() == [("k", {"v": 1})]
    assert table.queued == []


def test_an_older_value_read_back_never_hides_an_own_write() -> None:
    table = CompactedTable("t")
    table.apply(b"k", message("old"))  # loaded
    table["k"] = "first"
    table["k"] = "second"
    table.take_queued()
    table.apply(b"k", message("first"))  # the echo of the first write
    assert table["k"] == "second"
    table.apply(b"k", message("second"))  # the echo of the second
    assert table["k"] == "second" and table.overlay == {}


def test_another_writer_is_seen_once_own_writes_came_back() -> None:
    table = CompactedTable("t")
    table["k"] = "mine"
    table.take_queued()
    table.apply(b"k", message("mine"))
    table.apply(b"k", message("theirs"))
    assert table["k"] == "theirs"


def test_deletes_and_tombstones() -> None:
    table = CompactedTable("t")
    table.apply(b"a", message(1))
    table.apply(b"b", message(2))
    del table["a"]
    assert "a" not in table and table.pop("a", "gone") == "gone"
    assert sorted(table) == ["b"] and len(table) == 1
    assert table.take_queued() == [("a", None)]
    table.apply(b"b", None)  # someone else's tombstone
    assert "b" not in table


def test_unsent_writes_can_be_forgotten() -> None:
    table = CompactedTable("t")
    table.apply(b"k", message("kept"))
    table["k"] = "unsent"
    table.forget_unsent()
    assert table["k"] == "kept" and table.queued == []


def test_a_table_only_this_process_writes_stores_a_write_once_acknowledged() -> None:
    table = CompactedTable("t", followed=False, offset=4)
    for n in range(3):
        table[f"k{n}"] = n
    del table["k0"]
    assert dict(table) == {"k1": 1, "k2": 2} and table.base == {}  # not in Kafka yet
    sent = table.take_queued()
    assert len(sent) == 4 and table.base == {} and table.offset == 4
    table.acknowledged(sent, 8)
    assert table.base == {"k1": 1, "k2": 2} and table.overlay == {} and table.offset == 8


def test_of_two_flushes_of_a_key_the_latest_value_is_stored_in_either_order() -> None:
    table = CompactedTable("t", followed=False)
    table["k"] = "first"
    first = table.take_queued()
    table["k"] = "second"
    second = table.take_queued()
    table.acknowledged(second, 6)  # acknowledged first: the other is still in flight
    assert table.base == {} and table["k"] == "second" and table.offset is None
    table.acknowledged(first, 5)
    assert table.base == {"k": "second"} and table.overlay == {} and table.offset == 6


def test_a_write_not_acknowledged_never_reaches_the_store() -> None:
    table = CompactedTable("t", followed=False)
    table.apply(b"k", message("acknowledged"), own=True, offset=3)
    table["k"] = "maybe lost"
    table["j"] = "maybe lost"
    table.unacknowledged(table.take_queued())
    assert table["k"] == "acknowledged" and "j" not in table
    assert table.base == {"k": "acknowledged"} and table.overlay == {} and table.offset == 3


def test_the_offset_waits_until_no_write_is_queued_or_in_flight() -> None:
    table = CompactedTable("t", followed=False, offset=2)
    table["k"] = 1
    sent = table.take_queued()
    table["j"] = 2  # queued meanwhile
    table.acknowledged(sent, 3)
    assert table.base == {"k": 1} and table.offset == 2  # j's message is not in Kafka yet
    table.acknowledged(table.take_queued(), 4)
    assert table.base == {"k": 1, "j": 2} and table.offset == 4


def test_values_that_are_not_json_are_skipped() -> None:
    table = CompactedTable("t")
    table.apply(b"k", b"{not json")
    table.apply(None, message(1))
    assert dict(table) == {}


def test_a_write_forgotten_unsent_never_reaches_the_store() -> None:
    """A round redone drops its writes not produced yet, even of a key with one in flight."""
    table = CompactedTable("t", followed=False)
    table["k"] = "produced"
    sent = table.take_queued()
    table["k"] = "never produced"
    table.forget_unsent()
    table.acknowledged(sent, 1)
    assert table.base == {"k": "produced"} and table["k"] == "produced" and table.offset == 1
