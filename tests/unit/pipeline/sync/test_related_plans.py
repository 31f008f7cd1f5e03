"""Plans for a record's notes, attachments and tags (pipeline/sync/related_plans.py)."""

from __future__ import annotations

from typing import Any

from pipeline.sync.related_plans import (
    plan_attachments,
    plan_list,
    plan_notes,
    plan_tags,
    related_key,
    tag_names,
)


def note(note_id: str, title: str, content: str | None = None) -> dict[str, Any]:
    return {"id": note_id, "Note_Title": title, "Note_Content": content, "Modified_Time": "x"}


def test_notes_are_created_updated_adopted_and_deleted_through_the_map() -> None:
    source = [note("s1", "Kick-off", "v2"), note("s2", "Terms"), note("s3", "New")]
    target = [
        note("t1", "Kick-off", "v1"),
        note("t2", "Terms"),
        note("t9", "Gone"),
        note("t5", "Own"),
    ]
    plan = plan_notes(source, target, {"s1": "t1", "s9": "t9"}, delete=True)
    assert plan.update == [{"id": "t1", "Note_Title": "Kick-off", "Note_Content": "v2"}]
    assert plan.mapped == {"s1": "t1", "s2": "t2"}  # t2 adopted: a crashed create's copy
    assert plan.create == [("s3", {"Note_Title": "New", "Note_Content": None})]
    assert plan.delete == ["t9"]  # the target's own note t5 stays


def test_without_delete_a_note_gone_from_the_source_is_only_forgotten() -> None:
    plan = plan_notes([], [note("t1", "a")], {"s1": "t1"}, delete=False)
    assert (plan.mapped, plan.delete) == ({}, [])


def attachment(att_id: str, name: str, size: int, kind: str = "File") -> dict[str, Any]:
    return {"id": att_id, "File_Name": name, "Size": str(size), "$type": kind}


def test_attachments_copy_once_adopt_equal_files_and_delete_removed_ones() -> None:
    source = [
        attachment("s1", "po.pdf", 10),
        attachment("s2", "spec.pdf", 20),
        attachment("s3", "new.pdf", 5),
    ]
    target = [
        attachment("t1", "po.pdf", 10),
        attachment("t2", "spec.pdf", 20),
        attachment("t8", "old.pdf", 1),
    ]
    known = {"s1": ["t1", "abc"], "s8": ["t8", "def"]}
    plan = plan_attachments(source, target, known, delete=True)
    assert plan.mapped == {"s1": ["t1", "abc"], "s2": ["t2", ""]}
    assert [a["id"] for a in plan.copy] == ["s3"]
    assert plan.delete == ["t8"]
    assert plan.holding("abc") == "t1" and plan.holding("zzz") is None


def test_tags_go_by_name_and_only_names_orgsync_added_are_removed() -> None:
    record = {"Tag": [{"name": "VIP", "id": "1"}, {"name": "Q4", "id": "2"}]}
    assert tag_names(record) == ["Q4", "VIP"]
    plan = plan_tags(["Q4", "VIP"], ["Local", "Old", "VIP"], synced=["Old", "VIP"])
    assert (plan.add, plan.remove, plan.synced) == (["Q4"], ["Old"], ["Q4", "VIP"])


def test_related_keys_name_the_record_kind_and_the_other_org() -> None:
    assert related_key("in", "Deals", "1", "us", "notes") == "us|in/Deals#notes/1"


def test_a_related_list_links_missing_rows_updates_prices_and_delinks_only_its_own() -> None:
    source = [{"id": "T1", "list_price": 10.0}, {"id": "T2", "list_price": 25.0}]
    target = [{"id": "T2", "list_price": 20.0}, {"id": "T7", "list_price": 1.0}, {"id": "T8"}]
    plan = plan_list(source, target, synced=["T2", "T7"], delete=True)
    assert plan.link == [{"id": "T1", "list_price": 10.0}, {"id": "T2", "list_price": 25.0}]
    assert (plan.delink, plan.synced) == (["T7"], ["T1", "T2"])  # T8: linked in the target
    assert plan_list(source, target, ["T7"], delete=False).delink == []
