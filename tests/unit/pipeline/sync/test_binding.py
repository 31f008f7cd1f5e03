"""`link_existing` decisions from the rows one COQL query returned (pure)."""

from __future__ import annotations

from typing import Any

from orgsync_kernel.events import Write
from orgsync_kernel.settings import ModuleRoute
from pipeline.sync.binding import comparable, padded, query_for, resolve
from tests.support.writes import upsert

MAPPING = ModuleRoute(match_field="Origin_Record_Id", link_existing=("Last_Name", "Phone"))


def write(source_id: str, **record: Any) -> Write:
    return upsert(source_id, "Contacts", **record)


def test_values_compare_without_case_whitespace_or_phone_formatting() -> None:
    assert comparable("  Smith ") == comparable("SMITH")
    assert comparable("Ann@Example.COM") == comparable("ann@example.com")
    assert comparable("+1 (555) 010-2000") == comparable("15550102000")
    assert comparable({"id": "42", "name": "Acme"}) == "42"
    assert comparable("Smith") != comparable("Smyth")


def test_one_free_candidate_is_bound_several_are_ambiguous_a_claimed_one_is_left() -> None:
    rows = [
        {"id": "1", "Last_Name": "smith", "Phone": "555-0100", "Origin_Record_Id": None},
        {"id": "2", "Last_Name": "Jones", "Phone": "5550200", "Origin_Record_Id": None},
        {"id": "3", "Last_Name": "JONES", "Phone": "555 0200", "Origin_Record_Id": ""},
        {"id": "4", "Last_Name": "Brown", "Phone": "5550300", "Origin_Record_Id": "other"},
        {"id": "5", "Last_Name": "Green", "Phone": "5550400", "Origin_Record_Id": "s5"},
    ]
    writes = [
        write("s1", Last_Name=" Smith", Phone="(555) 0100", Email="a@x.example"),
        write("s2", Last_Name="Jones", Phone="555.0200"),
        write("s4", Last_Name="Brown", Phone="5550300"),
        write("s5", Last_Name="Green", Phone="5550400"),
        write("s6", Last_Name="White"),  # a key field empty: never matched
    ]
    out = resolve(writes, rows, MAPPING)
    [bind] = out.binds
    assert (bind.source_id, bind.target_id) == ("s1", "1")
    assert bind.record == {
        "id": "1",
        "Origin_Record_Id": "s1",
        "Email": "a@x.example",  # fill_empty: the target's own Last_Name and Phone stay
    }
    assert [(w.source_id, ids) for w, ids in out.ambiguous] == [("s2", ["2", "3"])]
    assert [w.source_id for w in out.upserts] == ["s4", "s5", "s6"]


def test_padded_values_are_every_padding_on_either_side() -> None:
    found = padded(["Acme Ltd"])
    assert len(found) == len(set(found)) == 9
    assert {"Acme Ltd", "Acme Ltd ", " Acme Ltd", "  Acme Ltd  "} <= set(found)


def test_the_query_asks_for_match_values_or_the_first_key_that_is_not_a_phone() -> None:
    text = query_for("Contacts", [write("s1", Last_Name="O'Brien", Phone="555")], MAPPING)
    assert text.startswith("select id, Origin_Record_Id, Last_Name, Phone from Contacts where ")
    assert "(Origin_Record_Id in ('s1')) or (Last_Name in ('O\\'Brien', 'O\\'Brien ', " in text
    assert "'  O\\'Brien  '))" in text  # COQL keeps whitespace: padded variants are asked for
    phones = ModuleRoute(match_field="Origin_Record_Id", link_existing=("Phone", "Last_Name"))
    assert "or (Last_Name in (" in query_for(
        "Contacts", [write("s1", Last_Name="X", Phone="5550100")], phones
    )
