"""Hints the ingress could not hand to Kafka in time (it answered 503).

Zoho is not known to send a callback again (its retry policy is undocumented, reference §5;
notifications answered 503 never came back, issue 26), so what the ingress refuses must be
found by the poller. A change moves its record's ``Modified_Time`` and the poller's listing
finds it anyway; a related action (a note, an attachment, a tag) moves nothing the listing
sees. So the server keeps each refused request's hints here, and the poller of the same
process produces them at its next poll of that org and module, and at each of its cursor
saves during a long one: within one interval. Held in memory, up to ``limit`` hints; past it
the hints are dropped (counted) and the next poll of that org and module lists from before
the earliest refusal it lost, so that at least every change is listed again.
"""

from __future__ import annotations

import logging

from ..kafka import Message

log = logging.getLogger(__name__)
LIMIT = 100_000  # hints held at most (a few MB)


class Refusals:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.dropped = 0
        self._held: dict[tuple[str, str], list[Message]] = {}
        self._lost: dict[tuple[str, str], float] = {}
        self._count = 0

    def add(self, org: str, module: str, messages: list[Message], at: float) -> None:
        """Hold a refused request's hints (``at``: when it was refused, epoch seconds)."""
        room = max(0, self.limit - self._count)
        if room:
            self._held.setdefault((org, module), []).extend(messages[:room])
            self._count += min(room, len(messages))
        if len(messages) > room:
            self.dropped += len(messages) - room
            self.mark_lost(org, module, at)
            log.warning("ingress: %d refused hints not held (limit %d)", self.dropped, self.limit)

    def take(self, org: str, module: str) -> list[Message]:
        messages = self._held.pop((org, module), [])
        self._count -= len(messages)
        return messages

    def give_back(self, org: str, module: str, messages: list[Message]) -> None:
        """What a poll took and could not produce, for the next one."""
        if messages:
            self._held.setdefault((org, module), [])[:0] = messages
            self._count += len(messages)

    def mark_lost(self, org: str, module: str, at: float) -> None:
        self._lost[(org, module)] = min(at, self._lost.get((org, module), at))

    def lost_since(self, org: str, module: str) -> float | None:
        """The earliest refusal whose hints were not held, once (None: nothing lost)."""
        return self._lost.pop((org, module), None)

    def __len__(self) -> int:
        return self._count
