"""Pure decisions over per-record state: stale or duplicate changes, echoes, conflicts.

The processor keeps one `Fingerprint` per record and route in a changelog-backed table, calls
`decide(previous, incoming)`, stores `decision.store` when it is not None and goes on only when
`decision.accept`. Zoho's Modified_Time has one-second resolution, so time alone cannot order
two edits made within the same second; the content hash can:

- older than what was processed          -> STALE (dropped)
- same mapped content as last processed  -> DUPLICATE (dropped; webhook + notification + poll)
- anything else, including a different content within the same second -> ACCEPT

Which org's value wins on two-way routes is decided per field by its version
(pipeline/sync/versions.py), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from orgsync_kernel.events import parse_instant


@dataclass(frozen=True)
class Fingerprint:
    """What the processor remembers about the last accepted change of a record."""

    modified_time: str | None
    content_hash: str

    def __post_init__(self) -> None:
        if self.modified_time is not None:
            parse_instant(self.modified_time)  # fail at the edge, not inside a later compare

    @property
    def instant(self) -> datetime | None:
        return None if self.modified_time is None else parse_instant(self.modified_time)

    def to_dict(self) -> dict[str, Any]:
        return {"modified_time": self.modified_time, "content_hash": self.content_hash}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(data.get("modified_time"), str(data["content_hash"]))


class Verdict(StrEnum):
    ACCEPT = "accept"
    STALE = "stale"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    store: Fingerprint | None  # the new state of the record; None keeps the previous one

    @property
    def accept(self) -> bool:
        return self.verdict is Verdict.ACCEPT


def decide(previous: Fingerprint | None, incoming: Fingerprint) -> Decision:
    """Accept, or drop as stale or duplicate; see the module docstring."""
    if previous is None:
        return Decision(Verdict.ACCEPT, incoming)
    before, now = previous.instant, incoming.instant
    if before is not None and now is not None and now < before:
        return Decision(Verdict.STALE, None)
    if incoming.content_hash == previous.content_hash:
        newer = before is None or (now is not None and now > before)
        return Decision(Verdict.DUPLICATE, incoming if newer else None)
    return Decision(Verdict.ACCEPT, incoming)
