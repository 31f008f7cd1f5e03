"""The fetch stage: a batch of hints in, one Change per record out, with one read per module.

Hints of one batch are grouped per org and module; the ids of each group are read with one
`get_by_ids` call (at most 100 ids, the batch size). A record that no longer exists becomes a
delete, and delete hints need no read at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from connectors.zoho import BackoffPolicy
from orgsync_kernel.events import RELATED_SOURCE, Change, Hint


class RecordReader(Protocol):
    async def get_by_ids(
        self, module: str, ids: Iterable[str], *, retry: BackoffPolicy | None = None
    ) -> list[dict[str, Any]]: ...


def group_hints(hints: Iterable[Hint]) -> dict[tuple[str, str], dict[str, Hint]]:
    """Hints per (org, module), one per record id: the last one of the batch wins, except that
    a related action is kept over a later hint that is not a delete (the record's related items
    may have changed, which a plain update hint would not say)."""
    groups: dict[tuple[str, str], dict[str, Hint]] = {}
    for hint in hints:
        group = groups.setdefault((hint.org, hint.module), {})
        earlier = group.pop(hint.id, None)
        if earlier is not None and earlier.source == RELATED_SOURCE and hint.operation != "delete":
            hint = earlier
        group[hint.id] = hint
    return groups


def deleted(hint: Hint, now: float) -> Change:
    return Change(
        org=hint.org,
        module=hint.module,
        id=hint.id,
        operation="delete",
        modified_time=None,
        record={},
        source=hint.source,
        received_at=hint.received_at,
        fetched_at=now,
    )


def fetched(hint: Hint, record: Mapping[str, Any], now: float) -> Change:
    operation = "insert" if hint.operation == "insert" else "update"
    modified = record.get("Modified_Time")
    return Change(
        org=hint.org,
        module=hint.module,
        id=hint.id,
        operation=operation,
        modified_time=str(modified) if modified else None,
        record=dict(record),
        source=hint.source,
        received_at=hint.received_at,
        fetched_at=now,
    )


async def fetch_group(
    reader: RecordReader,
    module: str,
    hints: Mapping[str, Hint],
    retry: BackoffPolicy | None = None,
    batch_size: int = 100,
) -> list[Change]:
    """Changes for one org/module group, in the order of the hints; reads of `batch_size`
    ids run concurrently. The client retries a failed read within `retry` (the fetch
    stage's budget) and then raises."""
    wanted = [record_id for record_id, hint in hints.items() if hint.operation != "delete"]
    chunks = [wanted[i : i + batch_size] for i in range(0, len(wanted), batch_size)]
    found = await asyncio.gather(
        *(reader.get_by_ids(module, chunk, retry=retry) for chunk in chunks)
    )
    records = [record for chunk in found for record in chunk]
    now = time.time()
    by_id = {str(record.get("id")): record for record in records}
    changes: list[Change] = []
    for record_id, hint in hints.items():
        record = by_id.get(record_id)
        changes.append(deleted(hint, now) if record is None else fetched(hint, record, now))
    return changes
