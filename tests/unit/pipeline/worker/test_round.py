"""Which changes must wait for the round before theirs to land (`Round.concerns`)."""

from __future__ import annotations

from orgsync_kernel.events import Change
from pipeline.worker.round import Round, referenced_ids


def change(org: str, record_id: str, **fields: object) -> Change:
    return Change(
        org=org,
        module="Contacts",
        id=record_id,
        operation="update",
        source="notification",
        received_at=0.0,
        modified_time="2026-01-05T10:00:00+00:00",
        record={"id": record_id, **fields},
    )


def writing(org: str, record_id: str, target: str) -> Round:
    round_ = Round()
    round_.records.add((org, record_id))
    round_.writes[target] = []
    return round_


def test_lookups_are_found_in_fields_and_subform_rows_but_a_record_s_own_id_is_not() -> None:
    record = {
        "id": "1",
        "Account_Name": {"id": "2", "name": "Acme"},
        "Owner": {"id": "3"},
        "Product_Details": [{"id": "row-1", "product": {"id": "4"}, "quantity": 2}],
        "Tag": [{"name": "vip"}],
    }
    assert sorted(referenced_ids(record)) == ["2", "3", "4"]


def test_a_change_waits_for_the_same_record_a_record_it_looks_up_or_an_org_being_written() -> None:
    earlier = writing("src", "100", target="tgt")
    assert earlier.concerns(change("src", "100"))
    assert earlier.concerns(change("src", "200", Account_Name={"id": "100", "name": "Acme"}))
    assert earlier.concerns(change("tgt", "900"))  # maybe the echo of a write in flight
    assert not earlier.concerns(change("src", "200", Account_Name={"id": "101"}))
    assert not earlier.concerns(change("other", "100"))  # the same id in another org
