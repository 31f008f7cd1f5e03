"""Related actions: a note, attachment or relation (related list link) of a record changed.

Zoho documents neither whether the parent's ``Modified_Time`` moves (switch
``related_action_bumps_parent_modified_time``, default off) nor the callback of
``notify_on_related_action`` (the notification hub sends the parent's channel an ``update``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .polymorphic import SE_MODULE
from .state import OrgState


def touch_parents(org: OrgState, module: str, ids: Iterable[str], kind: str, now_s: int) -> None:
    store = org.stores.get(module)
    if store is None:
        return
    found = tuple(dict.fromkeys(i for i in ids if i in store.records))
    if not found:
        return
    if org.behaviour.related_action_bumps_parent_modified_time:
        for rid in found:
            record = store.records[rid]
            record.modified_s = now_s
            record.modified_by = org.api_user.id
    org.emit_related(module, found, kind)


def note_parents(values: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Parent ids by module of these stored notes."""
    out: dict[str, list[str]] = {}
    for v in values:
        parent, module = v.get("Parent_Id"), v.get(SE_MODULE)
        if isinstance(parent, str) and isinstance(module, str):
            out.setdefault(module, []).append(parent)
    return out
