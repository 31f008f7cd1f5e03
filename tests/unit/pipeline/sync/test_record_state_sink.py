from __future__ import annotations

import pytest

from connectors.zoho import WriteOutcome
from orgsync_kernel.events import Write
from pipeline.sync.record_state import changed_fields, is_stale, observe, side, written
from pipeline.sync.versions import Side, Version, seconds
from pipeline.sync.write_outcomes import already_deleted, merge_rounds


def write(source_id: str, operation: str = "upsert", **record: object) -> Write:
    return Write(
        route="a->b",
        target_org="b",
        target_module="Leads",
        source_org="a",
        source_module="Leads",
        source_id=source_id,
        operation=operation,
        record=dict(record),
        match_field="Email",
        content_hash="h",
        modified_time=None,
        target_id="9" if operation == "delete" else None,
    )


def test_consecutive_upserts_of_a_record_merge_and_a_delete_comes_after() -> None:
    rounds = merge_rounds(
        [
            write("1", First_Name="A"),
            write("2", Last_Name="X"),
            write("1", Last_Name="B"),
            write("1", "delete"),
        ]
    )
    assert [[(w.source_id, w.operation) for w in r] for r in rounds] == [
        [("1", "upsert"), ("2", "upsert")],
        [("1", "delete")],
    ]
    assert rounds[0][0].record == {"First_Name": "A", "Last_Name": "B"}


def test_our_write_coming_back_is_not_a_genuine_edit() -> None:
    state = written(None, {"Lead_Status": "New", "Email": "a@b.c"}, "2024-01-01T10:00:00Z", "b")
    _, edited = observe(
        state, {"Lead_Status": "New", "Email": "a@b.c"}, "2024-01-01T10:00:01Z", "b"
    )
    assert edited == []
    _, edited = observe(
        state, {"Lead_Status": "Won", "Email": "a@b.c"}, "2024-01-01T10:00:02Z", "b"
    )
    assert edited == ["Lead_Status"]


def test_a_written_value_carries_the_version_it_copies_and_an_edit_goes_past_it() -> None:
    copied = Side(Version(seconds("2024-01-01T10:00:00Z"), 0, "a"))
    state = written(None, {"Phone": "1"}, "2024-01-01T10:00:03Z", "b", {"Phone": copied})
    assert side(state, "Phone", "b") == copied
    edited, _ = observe(state, {"Phone": "2"}, "2024-01-01T09:59:59Z", "b")  # a clock behind
    assert side(edited, "Phone", "b") == Side(Version(copied.version.at, 1, "b"), copied.version)  # type: ignore[union-attr]


def test_only_fields_the_target_lacks_are_written_and_later_target_edits_win() -> None:
    target, _ = observe(
        None, {"Lead_Status": "Won", "Phone": "1", "Email": "a@b.c"}, "2024-01-01T10:00:05Z", "b"
    )
    data = {"Lead_Status": "New", "Phone": "1", "First_Name": "Z", "Email": "a@b.c"}

    def at(time: str) -> dict[str, Side]:
        return dict.fromkeys(data, Side(Version(seconds(time), 0, "a")))

    older = at("2024-01-01T10:00:01Z")
    assert changed_fields(data, "Email", target, older, "b") == {
        "First_Name": "Z",
        "Email": "a@b.c",
    }
    newer = at("2024-01-01T10:00:09Z")
    assert changed_fields(data, "Email", target, newer, "b") == {
        "Lead_Status": "New",
        "First_Name": "Z",
        "Email": "a@b.c",
    }
    assert changed_fields(data, None, target, newer, "b") == {
        "Lead_Status": "New",
        "First_Name": "Z",
    }
    same = {"Lead_Status": "Won", "Phone": "1", "Email": "a@b.c"}
    assert changed_fields(same, "Email", target, newer, "b") is None


def test_a_copy_older_than_what_we_wrote_is_stale() -> None:
    state = written(None, {"A": 1}, "2024-01-01T10:00:05+00:00", "b")
    assert is_stale(state, "2024-01-01T10:00:04+00:00")
    assert not is_stale(state, "2024-01-01T10:00:05+00:00")


GONE = WriteOutcome(False, "INVALID_DATA", "the id given seems to be invalid", details={"id": "9"})


@pytest.mark.parametrize(
    ("operation", "outcome", "gone"),
    [
        ("delete", GONE, True),
        ("delete", WriteOutcome(False, "INVALID_DATA", "bad", details={"id": "8"}), False),
        ("delete", WriteOutcome(False, "NO_PERMISSION", "no", details={"id": "9"}), False),
        ("upsert", GONE, False),
    ],
)
def test_a_delete_of_a_record_the_target_no_longer_has_is_done(
    operation: str, outcome: WriteOutcome, gone: bool
) -> None:
    assert already_deleted(write("1", operation), outcome) is gone


def test_merged_writes_keep_the_versions_of_every_field() -> None:
    first = write("1", Phone="1").derive(versions={"Phone": [[1, 0, "a"], None]})
    second = write("1", Company="C").derive(versions={"Company": [[2, 0, "a"], None]})
    [[merged]] = merge_rounds([first, second])
    assert merged.versions == {"Phone": [[1, 0, "a"], None], "Company": [[2, 0, "a"], None]}


def test_a_state_keeps_only_the_fields_routes_read_or_write() -> None:
    record = {"Phone": "1", "Company": "C", "Fax": "2", "Website": "w"}
    state, edited = observe(None, record, "2024-01-01T10:00:00Z", "b", frozenset({"Phone"}))
    assert edited == ["Phone"] and set(state["values"]) == set(state["versions"]) == {"Phone"}
