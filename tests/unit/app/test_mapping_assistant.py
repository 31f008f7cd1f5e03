"""`orgsync init`'s suggestions from field metadata (pure)."""

from __future__ import annotations

from typing import Any

import yaml

from orgsync.mapping_assistant import owner_default, render, suggest


def meta(name: str, kind: str = "text", **more: Any) -> dict[str, Any]:
    return {"api_name": name, "data_type": kind, "field_label": name.replace("_", " "), **more}


def test_without_origin_record_id_a_unique_target_only_field_is_the_match_field() -> None:
    source = [meta("Email", "email"), meta("Phone", "phone"), meta("Created_Time", "datetime")]
    target = [
        meta("Email", "email", unique={"casesensitive": "false"}),
        meta("Source_Key", unique={"casesensitive": "false"}),
        meta("Telephone", "phone", field_label="Phone"),
        meta("Formula_Field", "formula"),
    ]
    found = suggest("Contacts", source, target)
    assert found.match_field == "Source_Key"
    assert found.fields == ["Email", "Phone"]  # no system field
    assert found.rename == {"Phone": "Telephone"}
    assert found.link_existing == ["Email"]


def test_with_no_match_field_to_suggest_the_starter_says_what_to_create() -> None:
    found = suggest("Leads", [meta("Last_Name")], [meta("Last_Name", system_mandatory=True)])
    assert found.match_field is None and found.warnings == []
    text = render("a", "b", [found], owner_default([], []))
    assert "match_field: Origin_Record_Id  # FILL_IN: create this unique field" in text
    assert yaml.safe_load(text)["sync"][0]["modules"]["Leads"]["fields"] == ["Last_Name"]
    assert "owner" not in text  # no user matches by e-mail
