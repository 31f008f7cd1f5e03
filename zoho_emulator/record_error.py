"""The per-record failure every write path raises (validation, subforms, polymorphic lookups)."""

from __future__ import annotations

from typing import Any


class RecordError(Exception):
    """A per-record failure: becomes one error entry in the response's data[]."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.details = details

    def entry(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "details": self.details,
            "message": self.message,
            "status": "error",
        }


def batch_status(results: list[dict[str, Any]], ok_status: int) -> int:
    """A settings batch's HTTP status: ``ok_status`` all succeeded, 207 some, 400 none."""
    ok = sum(r["status"] == "success" for r in results)
    return ok_status if ok == len(results) else 207 if ok else 400
