"""The safety net under two-way routes: a record pair that keeps being written is quarantined.

Field versions (versions.py) stop every loop that orgsync's own decisions could make. What they
cannot stop is a value that Zoho stores differently from how orgsync wrote it (a format the
content hash does not know): each echo then looks like a new edit, and the pair would be
written back and forth for ever. `LoopGuard` notices the pattern: an edit of a field seen
within `echo_seconds` after orgsync wrote that field of that record. After `limit` of them on
one record within `window_seconds`, the record and the records it is linked with are
quarantined for `quarantine_seconds`: not written, each skipped write counted and the
quarantine logged, instead of spending the orgs' credits on a flip-flop.

Memory holds only what was written within the last `window_seconds`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable


class LoopGuard:
    def __init__(
        self,
        limit: int = 8,
        window_seconds: float = 60.0,
        echo_seconds: float = 5.0,
        quarantine_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.echo = echo_seconds
        self.quarantine = quarantine_seconds
        self._clock = clock
        self._written: dict[str, tuple[float, frozenset[str]]] = {}  # key -> (when, fields)
        self._suspect: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}  # quarantined key -> until
        self._pruned_at = 0.0

    def wrote(self, key: str, fields: Iterable[str]) -> None:
        """orgsync is writing `fields` of the record `key` now."""
        self._written[key] = (self._clock(), frozenset(fields))

    def edited(self, key: str, fields: Iterable[str], partners: Iterable[str] = ()) -> bool:
        """An edit of `fields` of record `key` was seen; True when it starts a quarantine of
        the record and its `partners` (the records it is linked with)."""
        now = self._clock()
        self._prune(now)
        when, written = self._written.get(key, (0.0, frozenset()))
        if now - when > self.echo or not written.intersection(fields):
            return False
        times = self._suspect.setdefault(key, deque())
        times.append(now)
        if len(times) < self.limit or self.quarantined(key):
            return False
        for quarantined in (key, *partners):
            self._until[quarantined] = now + self.quarantine
        return True

    def quarantined(self, key: str) -> bool:
        return self._until.get(key, 0.0) > self._clock()

    def held(self) -> list[str]:
        """The records in quarantine now."""
        now = self._clock()
        return sorted(key for key, until in self._until.items() if until > now)

    def _prune(self, now: float) -> None:
        if now - self._pruned_at < 1.0:  # at most once a second: a walk over what was written
            return
        self._pruned_at = now
        for key in [k for k, (when, _) in self._written.items() if now - when > self.window]:
            del self._written[key]
        for key, times in list(self._suspect.items()):
            while times and now - times[0] > self.window:
                times.popleft()
            if not times:
                del self._suspect[key]
        for key in [k for k, until in self._until.items() if until <= now]:
            del self._until[key]
