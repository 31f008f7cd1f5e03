"""Record pairs of two-way routes that still differ, so that a divergence is never silent.

Each time the processor compares a record with its target on a two-way route, it reports the
fields both routes copy that differ and whose incoming value lost (`compared`): the target's
value must now flow the other way. Normally it does within the same round or the next, and
the next comparison of the pair reports nothing. A pair still reported after
`recheck_seconds` is read again (`due`: anti-entropy, until both sides agree); after
`settle_seconds` it counts as diverged (`orgsync_diverged_records`, a warning naming it).

Memory holds only the pairs that differ now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Pair:
    fields: set[str]
    since: float
    checked: float = field(default=0.0)
    said: bool = False


class Divergence:
    def __init__(
        self,
        recheck_seconds: float = 10.0,
        settle_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recheck = recheck_seconds
        self.settle = settle_seconds
        self._clock = clock
        self._pairs: dict[tuple[str, str], _Pair] = {}

    def compared(
        self, source: str, target: str, fields: Iterable[str], lost: Iterable[str]
    ) -> None:
        """A comparison of `fields` of the pair: those in `lost` differ, the others agree or
        are being written."""
        key = (min(source, target), max(source, target))
        pair = self._pairs.get(key)
        remaining = (pair.fields if pair else set()) - set(fields) | set(lost)
        if not remaining:
            self._pairs.pop(key, None)
        elif pair is None:
            now = self._clock()
            self._pairs[key] = _Pair(remaining, now, now)
        else:
            pair.fields = remaining

    def due(self) -> list[str]:
        """One record of each pair that has differed for a while, to be read and compared
        again (each pair at most once per `recheck_seconds`)."""
        now = self._clock()
        found = []
        for (first, _), pair in self._pairs.items():
            if now - pair.checked >= self.recheck:
                pair.checked = now
                found.append(first)
        return found

    def diverged(self) -> list[tuple[str, str, list[str]]]:
        """The pairs that still differ `settle_seconds` after they first did, and on what."""
        now = self._clock()
        return [
            (a, b, sorted(pair.fields))
            for (a, b), pair in self._pairs.items()
            if now - pair.since >= self.settle
        ]

    def newly_diverged(self) -> list[tuple[str, str, list[str]]]:
        """The diverged pairs not reported before (each is said once)."""
        found = []
        for a, b, fields in self.diverged():
            pair = self._pairs[(a, b)]
            if not pair.said:
                pair.said = True
                found.append((a, b, fields))
        return found
