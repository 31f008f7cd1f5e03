"""API limits: daily credits over a rolling 24 h window, concurrency and sub-concurrency."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

DAY_MS = 86_400_000
CONCURRENCY = {"free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25}
_PER_LICENCE = {
    "free": 0,
    "standard": 250,
    "professional": 500,
    "enterprise": 1000,
    "ultimate": 2000,
}
_CAP = {
    "free": 5_000,
    "standard": 100_000,
    "professional": 3_000_000,
    "enterprise": 5_000_000,
    "ultimate": 10**12,
}

BULK_READ_CREATE_COST = 50  # "bulk read initialize" in the credit table


def daily_allowance(edition: str, licences: int, override: int | None = None) -> int:
    if override is not None:
        return override
    if edition == "free":
        return 5_000
    return min(50_000 + _PER_LICENCE[edition] * licences, _CAP[edition])


def write_cost(records: int) -> int:
    """Insert/update/upsert: 1 credit per 10 records (at least 1)."""
    return max(1, -(-records // 10))


class CreditLedger:
    """Each call's credits are released 24 h after that call."""

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance
        self.used = 0
        self._spent: deque[tuple[int, int]] = deque()

    def _expire(self, now_ms: int) -> None:
        spent = self._spent
        while spent and spent[0][0] <= now_ms - DAY_MS:
            self.used -= spent.popleft()[1]

    def try_spend(self, now_ms: int, cost: int) -> bool:
        self._expire(now_ms)
        if self.used + cost > self.allowance:
            return False
        self.used += cost
        if self._spent and self._spent[-1][0] == now_ms:
            self._spent[-1] = (now_ms, self._spent[-1][1] + cost)
        else:
            self._spent.append((now_ms, cost))
        return True

    def remaining(self, now_ms: int) -> int:
        self._expire(now_ms)
        return self.allowance - self.used

    def clear(self) -> None:
        self.used = 0
        self._spent.clear()


@dataclass
class Concurrency:
    """In-flight calls of one org (or one client of an org); heavy calls also hold a sub slot."""

    edition: str
    sub_limit: int
    in_flight: int = 0
    heavy_in_flight: int = 0

    @property
    def limit(self) -> int:
        return CONCURRENCY[self.edition]

    def try_enter(self, heavy: bool) -> bool:
        if self.in_flight >= self.limit or (heavy and self.heavy_in_flight >= self.sub_limit):
            return False
        self.in_flight += 1
        if heavy:
            self.heavy_in_flight += 1
        return True

    def leave(self, heavy: bool) -> None:
        self.in_flight -= 1
        if heavy:
            self.heavy_in_flight -= 1
