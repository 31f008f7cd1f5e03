"""Per-org API economy: concurrency slots, the rolling 24 h credit ledger, backoff.

Numbers come from the reference (§7): concurrency 5/10/15/20/25 by edition with a
sub-concurrency of 10 for heavy calls (writes of more than 10 records, sorted lists, …);
credits per rolling 24 h; 1 credit per call, 1 per 10 records written, 2 for deleted
records.  The backoff policy is the only place that decides how long to wait.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from .errors import CreditBudgetExhausted

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

EDITION_CONCURRENCY = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
EDITION_DAILY_CREDITS = {
    "free": 5_000,
    "standard": 50_000,
    "professional": 50_000,
    "enterprise": 50_000,
    "ultimate": 50_000,
}
HEAVY_SUB_CONCURRENCY = 10
# A process beside the workers (backfill, dlq retry, plan, the ingress) claims a quarter of
# what all the workers claim together: 2 of 10 slots while workers run, all of them alone.
COMMAND_WEIGHT = 0.25
WINDOW_SECONDS = 24 * 3600.0
SHARE_RECHECK_SECONDS = 5.0
REPORT_SECONDS = 60.0  # a caller held at the reserve is reported again this often


class Priority(enum.Enum):
    LIVE = "live"  # sync traffic: may spend the whole budget
    LOW = "low"  # backfill, reconciliation: stops at the reserve and waits


def edition_concurrency(edition: str) -> int:
    try:
        return EDITION_CONCURRENCY[edition.lower()]
    except KeyError:
        raise ValueError(f"unknown Zoho edition {edition!r}") from None


def edition_daily_credits(edition: str) -> int:
    """The base allowance; licences and add-ons raise it, so configure the real figure."""
    edition_concurrency(edition)
    return EDITION_DAILY_CREDITS[edition.lower()]


def write_credits(records: int) -> int:
    return max(1, math.ceil(records / 10))


class ConcurrencyLimiter:
    """At most ``limit`` calls in flight, and at most ``heavy_limit`` heavy ones among them.

    Zoho counts concurrency per user and app, so processes that share one client id must
    share its slots. Each process claims a weight: a worker the part of the partitions it
    owns (``share``; the workers' claims add up to 1), any other process ``COMMAND_WEIGHT``
    (``join``). It uses ``claim / (claim + others)`` of the slots, ``others`` being the live
    claims of the deployment's other processes (``others_claim``, told by
    connectors/kafka/credit_share.py), and never less than one slot. A worker's denominator is
    at least 1 (the other workers' claims may not be known yet); a command alone gets them all.
    """

    def __init__(self, limit: int, heavy_limit: int = HEAVY_SUB_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("concurrency limit must be >= 1")
        self.limit = limit
        self.heavy_limit = min(limit, heavy_limit)
        self.claim, self.whole, self.others = 1.0, 1.0, 0.0
        self._changed = asyncio.Condition()
        self.in_flight = 0
        self.heavy_in_flight = 0
        self.high_water = 0

    @property
    def fraction(self) -> float:
        return self.claim / max(self.whole, self.claim + self.others)

    @property
    def allowed(self) -> int:
        return max(1, math.floor(self.limit * self.fraction))

    @property
    def heavy_allowed(self) -> int:
        return max(1, math.floor(self.heavy_limit * self.fraction))

    async def share(self, fraction: float) -> None:
        """A worker's claim: ``fraction`` (0 to 1) of the partitions, so of the slots."""
        await self._set(claim=min(max(fraction, 0.0), 1.0), whole=1.0)

    async def join(self, weight: float = 0.0) -> None:
        """A process beside the workers (a command, the ingress) claims ``weight``."""
        weight = weight or COMMAND_WEIGHT
        await self._set(claim=weight, whole=weight)

    async def others_claim(self, weight: float) -> None:
        """The live claims of the deployment's other processes in this org."""
        await self._set(others=max(weight, 0.0))

    async def _set(self, **weights: float) -> None:
        async with self._changed:
            for name, value in weights.items():
                setattr(self, name, value)
            self._changed.notify_all()

    def _free(self, heavy: bool) -> bool:
        return self.in_flight < self.allowed and (
            not heavy or self.heavy_in_flight < self.heavy_allowed
        )

    @asynccontextmanager
    async def slot(self, heavy: bool = False) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: self._free(heavy))
            self.in_flight += 1
            self.heavy_in_flight += heavy
            self.high_water = max(self.high_water, self.in_flight)
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                self.heavy_in_flight -= heavy
                self._changed.notify_all()


class SpendShare(Protocol):
    def record(self, credits: int) -> None: ...

    def others(self) -> int: ...

    def others_spent(self) -> list[tuple[float, int]]:
        """The others' credits in the window: (when spent, credits), oldest first."""
        ...


@dataclass(frozen=True)
class ReserveWait:
    """A low-priority caller held at the credit reserve: what is spent, and ``seconds`` until
    enough credits leave the rolling window at the earliest (live traffic may push it out)."""

    org: str
    budget: int
    reserve: int
    spent: int
    credits: int
    seconds: float


def hms(seconds: float) -> str:
    """A wait as it is told: `H:MM:SS`."""
    whole = max(0, int(round(seconds)))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ReserveObserver(Protocol):
    def held(self, wait: ReserveWait) -> None:
        """A wait starts, or goes on (told again every ``REPORT_SECONDS``)."""

    def slept(self, seconds: float) -> None:
        """Seconds one caller just slept at the reserve."""


@dataclass
class CreditLedger:
    """Credits spent over the last 24 h, with a reserve that only live callers may use.

    Low-priority callers wait (sleeping until enough old calls leave the window), and say so:
    ``observers`` hear of each wait (``ReserveWait``), ``waiters`` and ``waited`` count them;
    live callers never wait on the ledger: when the whole budget is gone they get
    ``CreditBudgetExhausted`` with ``retry_after`` and push back to their caller.
    """

    budget: int
    reserve: int = 0
    clock: Clock = time.time
    sleep: Sleep = asyncio.sleep
    # What the deployment's other processes spent (connectors/kafka/credit_share.py); None: alone.
    share: SpendShare | None = None
    org: str = ""
    observers: list[ReserveObserver] = field(default_factory=list)
    waiters: int = 0  # callers held at the reserve now
    waited: float = 0.0  # seconds slept at the reserve, summed over callers
    resumes_at: float | None = None  # the earliest end of the current wait
    _entries: deque[tuple[float, int]] = field(default_factory=deque, repr=False)
    _used: int = 0

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0][0] <= now - WINDOW_SECONDS:
            self._used -= self._entries.popleft()[1]

    def used(self) -> int:
        self._expire(self.clock())
        return self._used + self._others()

    def _others(self) -> int:
        return self.share.others() if self.share is not None else 0

    def remaining(self) -> int:
        return self.budget - self.used()

    def _ceiling(self, priority: Priority) -> int:
        return self.budget if priority is Priority.LIVE else self.budget - self.reserve

    def _wait_for(self, credits: int, ceiling: int, now: float) -> float:
        """Seconds until enough entries leave the window for ``credits`` to fit."""
        return _released(self._entries, self._used + credits - ceiling, now)

    def eta(self, credits: int, priority: Priority = Priority.LOW) -> float:
        """Seconds until ``credits`` fit at ``priority`` at the earliest, counting when the
        other processes' credits leave the window too (nobody spending more meanwhile)."""
        now = self.clock()
        self._expire(now)
        spent = list(self._entries)
        if self.share is not None:
            spent = sorted(spent + self.share.others_spent())
        return _released(spent, self.used() + credits - self._ceiling(priority), now)

    def try_spend(self, credits: int, priority: Priority = Priority.LIVE) -> float:
        """Spend and return 0, or spend nothing and return how long to wait."""
        now = self.clock()
        self._expire(now)
        others = self._others()
        ceiling = self._ceiling(priority) - others
        if self._used + credits <= ceiling:
            self._entries.append((now, credits))
            self._used += credits
            if self.share is not None:
                self.share.record(credits)
            return 0.0
        wait = self._wait_for(credits, ceiling, now)
        if others:  # the others' spending moves too: look again soon
            wait = min(wait, SHARE_RECHECK_SECONDS)
        return max(wait, 0.001)

    async def spend(self, credits: int, priority: Priority = Priority.LIVE) -> None:
        wait = self.try_spend(credits, priority)
        if wait <= 0:
            return
        if priority is Priority.LIVE:
            raise CreditBudgetExhausted(
                f"{self.used()} of {self.budget} credits used in the last 24 h",
                retry_after=wait,
            )
        await self._held(credits, priority, wait)

    async def _held(self, credits: int, priority: Priority, wait: float) -> None:
        """Wait at the reserve until ``credits`` fit, telling the observers."""
        self.waiters += 1
        told = -math.inf
        try:
            while wait > 0:
                if self.clock() - told >= REPORT_SECONDS:
                    told = self.clock()
                    self._tell(credits, priority)
                wait = min(wait, REPORT_SECONDS)  # told again, with a fresh ETA, each minute
                await self.sleep(wait)
                self.waited += wait
                for observer in self.observers:
                    observer.slept(wait)
                wait = self.try_spend(credits, priority)
        finally:
            self.waiters -= 1
            if not self.waiters:
                self.resumes_at = None

    def _tell(self, credits: int, priority: Priority) -> None:
        seconds = self.eta(credits, priority)
        self.resumes_at = self.clock() + seconds
        held = ReserveWait(self.org, self.budget, self.reserve, self.used(), credits, seconds)
        for observer in self.observers:
            observer.held(held)

    def refund(self, credits: int) -> None:
        """Give back credits of a call Zoho refused before doing anything (HTTP 429)."""
        self._entries.append((self.clock(), -credits))
        self._used -= credits

    def observe_remaining(self, remaining: int) -> None:
        """Align with Zoho's ``X-API-CREDITS-REMAINING`` (other apps spend the org's credits)."""
        gap = self.remaining() - remaining
        if gap > 0:
            self._entries.append((self.clock(), gap))
            self._used += gap


def _released(spent: Iterable[tuple[float, int]], excess: int, now: float) -> float:
    """Seconds until ``excess`` credits of ``spent`` (oldest first) leave the window."""
    if excess <= 0:
        return 0.0
    for at, credits in spent:
        excess -= credits
        if excess <= 0:
            return max(0.0, at + WINDOW_SECONDS - now)
    return WINDOW_SECONDS if excess > 0 else 0.0


@dataclass(frozen=True)
class BackoffPolicy:
    """Bounded, fully jittered exponential backoff; 429 waits honour server headers.

    ``max_attempts`` counts every HTTP attempt of one call, the first included.
    """

    max_attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    throttle_base: float = 2.0
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(
        self, attempt: int, *, throttled: bool = False, retry_after: float | None = None
    ) -> float:
        """Wait before attempt ``attempt + 1`` (``attempt`` starts at 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        base = self.throttle_base if throttled else self.base
        ceiling = min(self.cap, base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)

    def should_retry(self, attempt: int, retry_after: float | None = None) -> bool:
        if attempt >= self.max_attempts:
            return False
        return retry_after is None or retry_after <= self.max_retry_after


SINGLE_ATTEMPT = BackoffPolicy(max_attempts=1)  # for callers that run their own retry loop


def retry_after_from_headers(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait per ``Retry-After`` or ``X-RateLimit-Reset``; None if neither is sent.

    Zoho CRM documents neither header (reference §7) but proxies and other Zoho services
    send them, so they are honoured when present.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value is not None:
        return _parse_retry_after(value, now)
    reset = lowered.get("x-ratelimit-reset")
    if reset is not None:
        try:
            number = float(reset)
        except ValueError:
            return None
        # Epoch seconds (or ms) when large, otherwise a delta in seconds.
        if number > 1e12:
            number /= 1000
        return max(0.0, number - now) if number > 1e9 else max(0.0, number)
    return None


def _parse_retry_after(value: str, now: float) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def credits_remaining_header(headers: Mapping[str, str]) -> int | None:
    for key, value in headers.items():
        if key.lower() == "x-api-credits-remaining":
            try:
                return int(value)
            except ValueError:
                return None
    return None
