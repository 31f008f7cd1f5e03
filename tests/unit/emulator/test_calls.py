"""Which calls are completed (and so need Call_Duration): v7 insert-records page."""

from __future__ import annotations

import pytest

from zoho_emulator.calls import check_new_call, completed
from zoho_emulator.record_error import RecordError

NOW = 1_700_000_000
DONE, PLANNED = {"Outbound_Call_Status": "Completed"}, {"Outbound_Call_Status": "Scheduled"}


@pytest.mark.parametrize(
    ("values", "done"),
    [
        ({"Call_Type": "Inbound"}, True),
        ({"Call_Type": "Missed", "Call_Start_Time": NOW - 60}, False),
        ({"Call_Type": "Outbound", "Call_Start_Time": NOW - 60}, True),
        ({"Call_Type": "Outbound", "Call_Start_Time": NOW + 60}, False),  # scheduled
        ({"Call_Type": "Outbound", "Call_Start_Time": NOW + 60, **DONE}, True),
        ({"Call_Type": "Outbound", "Call_Start_Time": NOW - 60, **PLANNED}, False),
    ],
)  # fmt: skip
def test_completed(values: dict[str, object], done: bool) -> None:
    assert completed(values, NOW) is done


@pytest.mark.parametrize(
    ("duration", "code"), [(None, "MANDATORY_NOT_FOUND"), ("0:00", "DEPENDENT_MISMATCH")]
)
def test_a_completed_call_without_a_duration_is_refused(duration: str | None, code: str) -> None:
    values = {"Call_Type": "Inbound", "Call_Duration": duration}
    with pytest.raises(RecordError) as refused:
        check_new_call(values, 3, NOW)
    assert refused.value.code == code
    assert refused.value.details["json_path"] == "$.data[3].Call_Duration"


def test_a_completed_call_with_a_duration_passes() -> None:
    check_new_call({"Call_Type": "Inbound", "Call_Duration": "05:30"}, 0, NOW)
