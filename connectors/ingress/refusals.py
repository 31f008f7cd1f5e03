"""Hints the ingress could not hand to Kafka in time (it answered 503).

Zoho is not known to send a callback again (its retry policy is undocumented, reference §5;
notifications answered 503 never came back, issue 26), so what the ingress refuses must be
found by the poller. A change moves its record's
``Modified_Time`` and the poller's listing finds it anyway; a related action (a note, an
attachment, a tag) moves nothing the listing sees. So the server keeps each refused request's
hints here, and the poller of the same process produces them at its next poll of that org
and module (within one interval) and lists that poll from before the earliest refusal. Held
in memory, up to ``limit`` hints; past it the hints are dropped (counted) and only the
listing from before the earliest refusal remains.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..kafka import Message

log = logging.getLogger(__name__)
LIMIT = 100_000  # hints held at most (a few MB)


@dataclass
class Held:
    since: float  # the earliest refusal, epoch seconds
    messages: list[Message] = field(default_factory=list)


class Refusals:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.dropped = 0
        self._held: dict[tuple[str, str], Held] = {}
        self._count = 0

    def add(self, org: str, module: str, messages: list[Message], at: float) -> None:
        held = self._held.setdefault((org, module), Held(at))
        held.since = min(held.since, at)
        room = max(0, self.limit - self._count)
        held.messages += messages[:room]
        self._count += min(room, len(messages))
        if len(messages) > room:
            self.dropped += len(messages) - room
            log.warning("ingress: %d refused hints not held (limit %d)", self.dropped, self.limit)

    def take(self, org: str, module: str) -> Held | None:
        held = self._held.pop((org, module), None)
        if held is not None:
            self._count -= len(held.messages)
        return held

    def give_back(self, org: str, module: str, held: Held) -> None:
        """A poll that failed returns what it took, for the next one."""
        self.add(org, module, held.messages, held.since)

    def __len__(self) -> int:
        return self._count
