"""What the sink makes of writes and of Zoho's answers, as pure functions: writes merged into
rounds and grouped into calls, and the outcomes that mean "gone", "already deleted" or a
failure to dead-letter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.zoho import WriteOutcome, ZohoError
from orgsync_kernel.events import Write
from orgsync_kernel.settings import Route


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    details: Mapping[str, Any]


def merge_rounds(writes: Sequence[Write]) -> list[list[Write]]:
    """Per record, consecutive upserts merge into one (later fields win); round n holds each
    record's n-th remaining write, so a batch never carries one record twice. An update by id
    is keyed by its target record: two sources' writes to one record (a hub) merge too, the
    later decided one winning, as it was decided over the earlier one."""
    per_key: dict[str, list[Write]] = {}
    for write in writes:
        by_target = f"{write.target_org}/{write.target_module}/{write.target_id}"
        key = by_target if write.by_id else write.key
        ops = per_key.setdefault(key, [])
        if ops and ops[-1].operation == write.operation == "upsert":
            last = ops[-1]
            ops[-1] = write.derive(
                record={**last.record, **write.record},
                target_id=write.target_id or last.target_id,
                versions={**(last.versions or {}), **(write.versions or {})} or None,
            )
        else:
            ops.append(write)
    depth = max((len(ops) for ops in per_key.values()), default=0)
    return [[ops[i] for ops in per_key.values() if len(ops) > i] for i in range(depth)]


def already_deleted(write: Write, outcome: WriteOutcome) -> bool:
    """Zoho answers a delete of an id it no longer has (deleted in the target meanwhile, or by
    an earlier try of this batch) with INVALID_DATA ("record not deleted") and the
    id in `details`: the record is gone, which is what the delete wanted."""
    return (
        write.operation == "delete"
        and outcome.code == "INVALID_DATA"
        and str(outcome.details.get("id")) == str(write.target_id)
    )


def gone(write: Write, outcome: WriteOutcome) -> bool:
    """An update by id of a record the target no longer has (deleted there)."""
    return (
        write.by_id and outcome.code == "INVALID_DATA" and outcome.details.get("api_name") == "id"
    )


def recreated(write: Write) -> Write:
    """A write by id whose target record is gone, as an upsert on the match field."""
    record = {**write.record}
    record.setdefault(write.match_field, write.source_id)  # left out of writes by id
    return write.derive(target_id=None, record=record)


def groups(writes: list[Write], routes: Mapping[str, Route]) -> dict[tuple[Any, ...], list[Write]]:
    groups: dict[tuple[Any, ...], list[Write]] = {}
    for write in writes:
        trigger = routes[write.route].trigger
        key = (write.operation, write.by_id, write.target_module, write.match_field, trigger)
        groups.setdefault(key, []).append(write)
    return groups


def failure(error: ZohoError | WriteOutcome) -> Failure:
    """What Zoho said, from a failed call or from one record's outcome in a batch."""
    if isinstance(error, WriteOutcome):
        return Failure(error.code, error.message, dict(error.details))
    return Failure(error.zoho_code, error.zoho_message, dict(error.details))
