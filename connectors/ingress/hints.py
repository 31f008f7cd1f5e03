"""What an accepted request becomes: a ``HintBatch`` (one module, some ids), then one Kafka
message per id. Pure code: the parsers raise ``BadInput`` with a metric reason."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from orgsync_kernel.events import Hint, record_key

from ..kafka import Message

MAX_IDS = 5000  # far above a Zoho callback (<= a few hundred ids); bounds the work per request
_ID = re.compile(r"[0-9]{1,19}")  # Zoho record ids are 64-bit integers
_OPERATIONS = {
    "insert": "insert",
    "create": "insert",
    "update": "update",
    "edit": "update",
    "delete": "delete",
}


class BadInput(Exception):
    """A request we refuse; ``reason`` is a label of ``orgsync_ingress_rejected_total``."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


@dataclass(frozen=True)
class HintBatch:
    module: str
    ids: tuple[str, ...]
    operation: str
    event_time: str | None = None
    related: bool = False  # a related action: the records' related items may have changed

    def messages(self, org: str, source: str, received_at: float) -> list[Message]:
        return [
            (
                record_key(org, self.module, record_id).encode(),
                Hint(
                    org=org,
                    module=self.module,
                    id=record_id,
                    operation=self.operation,
                    source=source,
                    received_at=received_at,
                    event_time=self.event_time,
                ).dumps(),
            )
            for record_id in self.ids
        ]


def check_module(value: object, synced: Collection[str]) -> str:
    if not isinstance(value, str) or not value:
        raise BadInput("malformed", "module is missing")
    if value not in synced:
        raise BadInput("unknown_module", "module is not synced for this org")
    return value


def check_ids(values: Iterable[object]) -> tuple[str, ...]:
    ids: list[str] = []
    for value in values:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not _ID.fullmatch(text):
            raise BadInput("bad_id", "record ids must be numeric")
        ids.append(text)
    if not ids:
        raise BadInput("malformed", "no record id")
    if len(ids) > MAX_IDS:
        raise BadInput("malformed", f"more than {MAX_IDS} ids")
    return tuple(dict.fromkeys(ids))


def check_operation(value: object, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    operation = _OPERATIONS.get(value.lower()) if isinstance(value, str) else None
    if operation is None:
        raise BadInput("malformed", "operation must be insert, update or delete")
    return operation


def event_time(value: object) -> str | None:
    """Zoho's event time if it is ISO-8601 text; anything else is left out, not refused."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return None
    return value
