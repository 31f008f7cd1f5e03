"""Schema drift between two reads of a module's fields (pipeline/sync/drift.py)."""

from __future__ import annotations

from pipeline.sync.drift import Drift, schema_drift

BEFORE = [
    {"id": "1", "api_name": "Tier", "data_type": "text"},
    {"id": "2", "api_name": "Region", "data_type": "text"},
    {"id": "3", "api_name": "Score", "data_type": "text"},
    {"id": "4", "api_name": "Phone", "data_type": "phone"},
]
AFTER = [
    {"id": "2", "api_name": "Territory", "data_type": "text"},
    {"id": "3", "api_name": "Score", "data_type": "integer"},
    {"id": "4", "api_name": "Phone", "data_type": "phone", "system_mandatory": True},
    {"id": "5", "api_name": "Vat", "data_type": "text", "mandatory": True},
    {"id": "6", "api_name": "Notes_2", "data_type": "text"},
]


def test_removed_renamed_retyped_and_mandatory_fields_are_told_apart_by_id() -> None:
    kinds = {(d.kind, d.field) for d in schema_drift(BEFORE, AFTER)}
    assert kinds == {
        ("removed", "Tier"),
        ("renamed", "Region"),
        ("type_changed", "Score"),
        ("now_mandatory", "Phone"),
        ("now_mandatory", "Vat"),
    }


def test_the_same_metadata_is_no_drift() -> None:
    assert schema_drift(BEFORE, [dict(f) for f in BEFORE]) == []
    assert Drift("removed", "Tier", "x").kind == "removed"
