"""Writes as the processor makes them, for the tests of what the sink and `plan` do with them."""

from __future__ import annotations

from typing import Any

from orgsync_kernel.events import Write

MATCH = "Origin_Record_Id"


def upsert(
    source_id: str, module: str = "Accounts", target_id: str | None = None, **record: Any
) -> Write:
    """The upsert of source record `source_id` on `Origin_Record_Id` (route src->tgt)."""
    return Write(
        route="src->tgt",
        target_org="tgt",
        target_module=module,
        source_org="src",
        source_module=module,
        source_id=source_id,
        operation="upsert",
        record={MATCH: source_id, **record},
        match_field=MATCH,
        content_hash="",
        modified_time=None,
        target_id=target_id,
    )
