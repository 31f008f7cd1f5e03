from __future__ import annotations

import asyncio
import random

import pytest

from connectors.zoho.errors import CreditBudgetExhausted
from connectors.zoho.limits import (
    REPORT_SECONDS,
    SHARE_RECHECK_SECONDS,
    WINDOW_SECONDS,
    BackoffPolicy,
    ConcurrencyLimiter,
    CreditLedger,
    Priority,
    ReserveWait,
    credits_remaining_header,
    edition_concurrency,
    retry_after_from_headers,
    write_credits,
)


class FakeTime:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("edition", "slots"),
    [("free", 5), ("standard", 10), ("professional", 15), ("enterprise", 20), ("Ultimate", 25)],
)
def test_edition_concurrency(edition: str, slots: int) -> None:
    assert edition_concurrency(edition) == slots


@pytest.mark.parametrize(("records", "credits"), [(0, 1), (1, 1), (10, 1), (11, 2), (100, 10)])
def test_write_credits(records: int, credits: int) -> None:
    assert write_credits(records) == credits


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_is_bounded_and_jittered(attempt: int) -> None:
    policy = BackoffPolicy(base=0.5, cap=8.0, rng=random.Random(attempt))
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    delays = {policy.delay(attempt) for _ in range(20)}
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(delays) > 1


def test_backoff_throttled_uses_its_own_base_and_honours_retry_after() -> None:
    policy = BackoffPolicy(base=0.01, throttle_base=1.0, max_retry_after=60)
    assert 0.5 <= policy.delay(1, throttled=True) <= 1.0
    assert policy.delay(3, retry_after=12.5) == 12.5
    assert policy.delay(3, retry_after=600) == 60


def test_backoff_attempt_bound() -> None:
    policy = BackoffPolicy(max_attempts=3, max_retry_after=60)
    assert policy.should_retry(1) and policy.should_retry(2)
    assert not policy.should_retry(3)
    assert not policy.should_retry(1, retry_after=61)  # too long: push back to the caller


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ({}, 5.0, None),
        ({"Retry-After": "3"}, 5.0, 3.0),
        ({"retry-after": "Thu, 01 Jan 1970 00:00:10 GMT"}, 5.0, 5.0),
        ({"X-RateLimit-Reset": "15"}, 5.0, 15.0),  # small numbers: a delta in seconds
        ({"X-RATELIMIT-RESET": str(2_000_000_005)}, 2e9, 5.0),  # epoch seconds
        ({"X-RateLimit-Reset": str(2_000_000_005_000)}, 2e9, 5.0),  # epoch ms
        ({"X-RateLimit-Reset": "1"}, 2e9, 1.0),
        ({"Retry-After": "soon"}, 5.0, None),
    ],
)
def test_retry_after_from_headers(
    headers: dict[str, str], now: float, expected: float | None
) -> None:
    assert retry_after_from_headers(headers, now) == expected


def test_credits_remaining_header() -> None:
    assert credits_remaining_header({"X-API-CREDITS-REMAINING": "42"}) == 42
    assert credits_remaining_header({"x-api-credits-remaining": "x"}) is None
    assert credits_remaining_header({}) is None


def test_ledger_rolls_over_24_hours() -> None:
    t = FakeTime()
    ledger = CreditLedger(budget=10, clock=t, sleep=t.sleep)
    assert ledger.try_spend(6) == 0
    t.now += 3600
    assert ledger.try_spend(4) == 0
    assert ledger.remaining() == 0
    # The first 6 credits come back 24 h after they were spent.
    assert ledger.try_spend(1) == pytest.approx(WINDOW_SECONDS - 3600)
    t.now += WINDOW_SECONDS - 3600
    assert ledger.used() == 4
    assert ledger.try_spend(6) == 0


async def test_live_spends_the_reserve_then_is_pushed_back() -> None:
    t = FakeTime()
    ledger = CreditLedger(budget=10, reserve=3, clock=t, sleep=t.sleep)
    await ledger.spend(7, Priority.LOW)
    await ledger.spend(3, Priority.LIVE)  # the reserve is for live traffic
    with pytest.raises(CreditBudgetExhausted) as info:
        await ledger.spend(1, Priority.LIVE)
    assert info.value.retry_after == pytest.approx(WINDOW_SECONDS)
    assert t.slept == []


async def test_low_priority_waits_at_the_reserve() -> None:
    t = FakeTime()
    ledger = CreditLedger(budget=10, reserve=3, clock=t, sleep=t.sleep)
    await ledger.spend(5, Priority.LOW)
    t.now += 100
    await ledger.spend(2, Priority.LIVE)
    await ledger.spend(2, Priority.LOW)  # would reach 9 > 7: waits for the first 5 to expire
    assert sum(t.slept) == pytest.approx(WINDOW_SECONDS - 100)
    assert max(t.slept) == REPORT_SECONDS  # a minute at a time, told again each time
    assert ledger.used() == 4 and ledger.waited == pytest.approx(WINDOW_SECONDS - 100)


def test_refund_and_server_alignment() -> None:
    t = FakeTime()
    ledger = CreditLedger(budget=100, clock=t, sleep=t.sleep)
    ledger.try_spend(10)
    ledger.refund(10)
    assert ledger.remaining() == 100
    ledger.observe_remaining(40)  # other apps spent 60 of the org's credits
    assert ledger.remaining() == 40
    ledger.observe_remaining(90)  # never gives credits back on the server's word
    assert ledger.remaining() == 40


async def test_concurrency_limiter_bounds_in_flight_and_heavy() -> None:
    limiter = ConcurrencyLimiter(4, heavy_limit=2)
    heavy_now = heavy_max = 0

    async def work(heavy: bool) -> None:
        nonlocal heavy_now, heavy_max
        async with limiter.slot(heavy):
            heavy_now += heavy
            heavy_max = max(heavy_max, heavy_now)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            heavy_now -= heavy

    await asyncio.gather(*(work(i % 2 == 0) for i in range(40)))
    assert limiter.high_water == 4
    assert heavy_max == 2
    assert limiter.in_flight == 0


async def test_a_limiter_keeps_to_its_share_of_the_apps_slots() -> None:
    limiter = ConcurrencyLimiter(10, heavy_limit=10)
    await limiter.share(0.5)  # two workers on one client id
    release = asyncio.Event()

    async def work() -> None:
        async with limiter.slot(heavy=True):
            await release.wait()

    async def settled() -> None:  # every task that can take a slot has taken it
        for _ in range(100):
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(work()) for _ in range(8)]
    await settled()
    assert limiter.in_flight == 5 == limiter.allowed
    await limiter.share(0.0)  # no partition left: still one slot, never none
    assert limiter.allowed == 1
    await limiter.share(1.0)
    await settled()
    assert limiter.in_flight == 8
    release.set()
    await asyncio.gather(*tasks)
    assert limiter.in_flight == 0 and limiter.heavy_in_flight == 0


@pytest.mark.parametrize(
    ("claims", "others", "slots"),
    [
        ((0.5, None), 0.0, 5),  # a worker owning half the partitions, alone as far as it knows
        ((0.5, None), 0.75, 4),  # ... beside the other worker and a backfill: 0.5 / 1.25
        ((None, 0.25), 1.0, 2),  # a backfill while the workers run: 0.25 / 1.25
        ((None, 0.25), 0.0, 10),  # a backfill alone takes every slot
        ((None, 0.25), 0.25, 5),  # a backfill beside a dlq retry: half each
    ],
)
async def test_processes_share_the_slots_by_their_claims(
    claims: tuple[float | None, float | None], others: float, slots: int
) -> None:
    limiter = ConcurrencyLimiter(10)
    worker, command = claims
    if worker is not None:
        await limiter.share(worker)
    if command is not None:
        await limiter.join(command)
    await limiter.others_claim(others)
    assert limiter.allowed == slots


class OtherProcesses:
    """What the deployment's other processes spent, as connectors/kafka/credit_share.py tells it."""

    def __init__(self, spent: int, at: float = 0.0) -> None:
        self.spent, self.at = spent, at
        self.recorded: list[int] = []

    def record(self, credits: int) -> None:
        self.recorded.append(credits)

    def others(self) -> int:
        return self.spent

    def others_spent(self) -> list[tuple[float, int]]:
        return [(self.at, self.spent)] if self.spent else []


class Observer:
    def __init__(self) -> None:
        self.waits: list[ReserveWait] = []
        self.seconds = 0.0

    def held(self, wait: ReserveWait) -> None:
        self.waits.append(wait)

    def slept(self, seconds: float) -> None:
        self.seconds += seconds


async def test_a_wait_at_the_reserve_is_told_with_an_honest_eta() -> None:
    t = FakeTime()
    asleep, go = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:  # held until the test lets it go
        asleep.set()
        await go.wait()
        await t.sleep(seconds)

    others = OtherProcesses(spent=5, at=t.now - 3600)  # the worker's credits, an hour old
    ledger = CreditLedger(budget=10, reserve=3, clock=t, sleep=sleep, share=others, org="src")
    observer = Observer()
    ledger.observers.append(observer)
    await ledger.spend(2, Priority.LOW)  # 7: the most low priority may reach
    waiting = asyncio.create_task(ledger.spend(1, Priority.LOW))
    await asleep.wait()
    assert ledger.waiters == 1
    [wait] = observer.waits
    assert (wait.org, wait.budget, wait.reserve, wait.spent, wait.credits) == ("src", 10, 3, 7, 1)
    assert wait.seconds == WINDOW_SECONDS - 3600  # when the worker's credits leave the window
    assert ledger.resumes_at == t.now + wait.seconds
    others.spent = 0
    go.set()
    await waiting
    assert ledger.waiters == 0 and ledger.resumes_at is None
    assert ledger.waited == observer.seconds == SHARE_RECHECK_SECONDS


async def test_the_reserve_counts_what_other_processes_spent() -> None:
    t = FakeTime()
    others = OtherProcesses(spent=5)
    ledger = CreditLedger(budget=10, reserve=3, clock=t, sleep=t.sleep, share=others)
    await ledger.spend(2, Priority.LOW)  # 5 + 2 = 7: the most low priority may reach
    assert others.recorded == [2] and ledger.used() == 7
    assert ledger.try_spend(1, Priority.LOW) == SHARE_RECHECK_SECONDS  # look again soon
    others.spent = 0  # their spending left the window
    await ledger.spend(1, Priority.LOW)
    assert ledger.used() == 3
