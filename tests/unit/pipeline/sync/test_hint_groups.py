"""One hint per record and round: a related action is not lost to a later plain hint."""

from __future__ import annotations

from orgsync_kernel.events import RELATED_SOURCE, Hint
from pipeline.sync.fetch import group_hints


def hint(record_id: str, source: str, operation: str = "update") -> Hint:
    return Hint(
        org="src", module="Deals", id=record_id, operation=operation, source=source, received_at=0
    )


def test_the_last_hint_wins_but_a_related_action_stays_unless_the_record_is_deleted() -> None:
    hints = [
        hint("1", RELATED_SOURCE),
        hint("1", "poll"),  # the record re-listed: its related items must still be read
        hint("2", "poll"),
        hint("2", RELATED_SOURCE),
        hint("3", RELATED_SOURCE),
        hint("3", "notification", "delete"),  # gone: nothing to read
        hint("4", "poll", "insert"),
        hint("4", "notification"),
    ]
    group = group_hints(hints)[("src", "Deals")]
    assert {i: (h.source, h.operation) for i, h in group.items()} == {
        "1": (RELATED_SOURCE, "update"),
        "2": (RELATED_SOURCE, "update"),
        "3": ("notification", "delete"),
        "4": ("notification", "update"),
    }
