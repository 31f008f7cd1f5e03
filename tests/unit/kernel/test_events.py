from __future__ import annotations

from typing import Any

import faust
import pytest

from orgsync_kernel.events import Change, DeadLetter, Hint, Write, record_key, split_key


def hint(**overrides: Any) -> Hint:
    fields: dict[str, Any] = {
        "org": "regional_in",
        "module": "Leads",
        "id": "4150868000000012345",
        "operation": "update",
        "source": "notification",
        "received_at": 1718000000.25,
    }
    return Hint(**(fields | overrides))


def change() -> Change:
    return Change(
        org="regional_in",
        module="Leads",
        id="1",
        operation="insert",
        modified_time="2024-02-19T18:30:23+05:30",
        record={"id": "1", "Last_Name": "Boyle", "Tags": ["a"]},
        source="poll",
        received_at=1.0,
        fetched_at=2.0,
    )


def write() -> Write:
    return Write(
        route="regional_in->global_us",
        target_org="global_us",
        target_module="Leads",
        source_org="regional_in",
        source_module="Leads",
        source_id="1",
        operation="upsert",
        record={"Email": "a@b.c", "Owner": {"id": "9"}},
        match_field="Email",
        content_hash="0" * 32,
        modified_time="2024-02-19T18:30:23+05:30",
        attempt=2,
    )


def dead_letter() -> DeadLetter:
    return DeadLetter(
        id="7a1c",
        route="regional_in->global_us",
        stage="write",
        key="regional_in/Leads/1",
        record=write().asdict(),
        code="MANDATORY_NOT_FOUND",
        message="required field not found",
        details={"api_name": "Last_Name"},
        attempts=1,
        failed_at=3.5,
    )


@pytest.mark.parametrize("make", [hint, change, write, dead_letter])
def test_records_round_trip_through_json(make: Any) -> None:
    value = make()
    assert isinstance(value, faust.Record)
    payload = value.dumps()
    assert payload.startswith(b"{")
    assert type(value).loads(payload) == value


def test_optional_fields_default() -> None:
    assert hint().event_time is None
    assert write().target_id is None and Write.loads(write().dumps()).attempt == 2


@pytest.mark.parametrize(("field", "value"), [("operation", "upsert"), ("source", "email")])
def test_hint_refuses_unknown_operation_or_source(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        hint(**{field: value})


def test_write_refuses_unknown_operation() -> None:
    with pytest.raises(ValueError, match="operation"):
        Write.loads(write().dumps().replace(b'"upsert"', b'"insert"'))


def test_keys() -> None:
    assert record_key("regional_in", "Leads", "1") == "regional_in/Leads/1"
    assert split_key("regional_in/Leads/1") == ("regional_in", "Leads", "1")
    assert hint().key == "regional_in/Leads/4150868000000012345"
    assert change().key == "regional_in/Leads/1"
    assert write().key == "regional_in/Leads/1"
