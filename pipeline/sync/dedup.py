"""Pure decisions over per-record state: stale or duplicate changes, echoes, conflicts.

The processor keeps one `Fingerprint` per record and route in a changelog-backed table, calls
`decide(previous, incoming)`, stores `decision.store` when it is not None and goes on only when
`decision.accept`. Zoho's Modified_Time has one-second resolution, so time alone cannot order
two edits made within the same second; the content hash can:

- older than what was processed          -> STALE (dropped)
- same mapped content as last processed  -> DUPLICATE (dropped; webhook + notification + poll)
- anything else, including a different content within the same second -> ACCEPT

Two-way routes: `incoming_wins` settles a
conflict when both orgs edited the same record: the later Modified_Time wins, and a tie (same
second) goes to the org whose name sorts first, so both directions agree on one winner.
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


@dataclass(frozen=True)
class Edit:
    """A genuine (non-echo) edit of a record: which org made it and its Modified_Time."""

    org: str
    modified_time: str


def incoming_wins(incoming: Edit, target_last: Edit | None) -> bool:
    """Should a change overwrite the target record, given the target's last genuine edit?

    The later Modified_Time wins; within the same second the org whose name sorts first wins.
    Our own writes are not genuine edits: only changes that were not echoes update `target_last`.
    """
    if target_last is None:
        return True
    mine, theirs = parse_instant(incoming.modified_time), parse_instant(target_last.modified_time)
    if mine != theirs:
        return mine > theirs
    return incoming.org <= target_last.org
