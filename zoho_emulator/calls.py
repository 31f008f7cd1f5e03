"""A call's own rules (v7 insert-records page, "Sample Input to Insert a Call").

A completed call needs ``Call_Duration`` ("mandatory for completed calls", ``HH:mm``), and the
duration of an inbound or outbound call cannot be zero (``DEPENDENT_MISMATCH`` "Call Duration
can not be zero."). Completed: every inbound call; an outbound call whose
``Outbound_Call_Status`` is ``Completed``, or, without a status, whose start is not in the
future (a scheduled call must start later than now). Missed calls have no duration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .record_error import RecordError

CALLS = "Calls"
_ZERO = re.compile(r"^0+(:0+)*$")


def completed(values: Mapping[str, Any], now_s: int) -> bool:
    kind = values.get("Call_Type")
    if kind == "Inbound":
        return True
    if kind != "Outbound":
        return False
    status = values.get("Outbound_Call_Status")
    if status is not None:
        return bool(status == "Completed")
    start = values.get("Call_Start_Time")
    return isinstance(start, int) and start <= now_s


def check_new_call(values: Mapping[str, Any], i: int, now_s: int) -> None:
    if not completed(values, now_s):
        return
    duration = values.get("Call_Duration")
    path = {"api_name": "Call_Duration", "json_path": f"$.data[{i}].Call_Duration"}
    if duration is None:
        raise RecordError("MANDATORY_NOT_FOUND", "required field not found", path)
    if isinstance(duration, str) and _ZERO.match(duration.strip()):
        raise RecordError("DEPENDENT_MISMATCH", "Call Duration can not be zero.", path)
