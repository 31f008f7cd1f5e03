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
