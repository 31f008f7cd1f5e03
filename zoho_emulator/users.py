"""The users of an org and the ids the emulator mints (a low module: no emulator imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: str
    zuid: str

    def minified(self) -> dict[str, str]:
        return {"name": self.name, "id": self.id, "email": self.email}


class IdGenerator:
    """19-digit numeric ids: a 7-digit org prefix, then a 12-digit sequence (always < 2**63)."""

    def __init__(self, prefix: int) -> None:
        self.prefix = prefix
        self._next = 1_000_000

    def __call__(self) -> str:
        self._next += 1
        return f"{self.prefix}{self._next:012d}"
