"""Per-record results of write calls: Zoho answers each record on its own (reference §2.4).

One function turns a write response into typed outcomes, in the order of the records
sent.  A bad record is an outcome, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ZohoError, class_for

Action = Literal["insert", "update", "delete"]


@dataclass(frozen=True)
class WriteOutcome:
    """Success (``id`` and ``action``) or Zoho's ``code``/``message``/``details``."""

    ok: bool
    code: str
    message: str = ""
    id: str | None = None
    action: Action | None = None
    duplicate_field: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        return not self.ok and class_for(None, self.code).retryable

    @property
    def error_class(self) -> type[ZohoError] | None:
        return None if self.ok else class_for(None, self.code)


def _outcome(item: Any, default_action: Action | None) -> WriteOutcome:
    if not isinstance(item, Mapping):
        return WriteOutcome(False, "UNEXPECTED_RESPONSE", f"not an object: {item!r:.200}")
    raw = item.get("details")
    details: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    code = str(item.get("code") or "UNEXPECTED_RESPONSE")
    message = str(item.get("message") or "")
    if item.get("status") != "success":
        return WriteOutcome(False, code, message, details=details)
    action = item.get("action") or default_action
    return WriteOutcome(
        True,
        code,
        message,
        id=str(details["id"]) if details.get("id") is not None else None,
        action=action,
        duplicate_field=item.get("duplicate_field"),
        details=details,
    )


def parse_write_response(
    body: Any, sent: int, default_action: Action | None, key: str = "data"
) -> list[WriteOutcome]:
    """Outcomes for ``sent`` items from a ``{key: [...]}`` body (201/200/207/400)."""
    items: Sequence[Any] = body.get(key, []) if isinstance(body, Mapping) else []
    if not isinstance(items, list):
        items = []
    outcomes = [_outcome(item, default_action) for item in items[:sent]]
    missing = WriteOutcome(False, "UNEXPECTED_RESPONSE", "no result for this record")
    return outcomes + [missing] * (sent - len(outcomes))
