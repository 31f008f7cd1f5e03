"""The status sampler: rates from cumulative counters, quantiles from histogram buckets."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from orgsync_operations.sampler import (
    Sampler,
    Samples,
    Snapshot,
    histogram_quantile,
    level,
    quantile,
    rate,
)


def counter_at(at: float, **values: float) -> Snapshot:
    samples: Samples = {
        "writes_total": [({"target": t, "outcome": "insert"}, v) for t, v in values.items()]
    }
    samples["writes_total"].append(({"target": "a", "outcome": "failed"}, 1000.0 * at))
    return Snapshot(at, samples)


def test_rate_is_the_growth_per_second_of_each_interval_and_a_reset_counts_as_none() -> None:
    snaps = [counter_at(0, a=0, b=5), counter_at(10, a=50, b=5), counter_at(20, a=10, b=7)]
    unless = {"outcome": "failed"}
    assert rate(snaps, "writes_total", unless, target="a") == [(10, 5.0), (20, 0.0)]
    assert rate(snaps, "writes_total", unless) == [(10, 5.0), (20, 0.0)]
    assert rate(snaps, "writes_total", target="b") == [(10, 0.0), (20, 0.2)]
    assert rate(snaps, "missing_total") == [] and level(snaps, "missing") == []


def test_histogram_quantile_interpolates_within_the_bucket() -> None:
    counts = {0.1: 0.0, 0.5: 10.0, 1.0: 20.0, math.inf: 20.0}
    assert histogram_quantile(0.5, counts) == pytest.approx(0.5)
    assert histogram_quantile(0.99, counts) == pytest.approx(0.99)
    assert histogram_quantile(0.99, {1.0: 1.0, math.inf: 10.0}) == 1.0  # in +Inf: largest bound
    assert histogram_quantile(0.5, {1.0: 0.0, math.inf: 0.0}) is None


async def test_quantile_reads_each_interval_s_own_observations() -> None:
    registry = CollectorRegistry()
    latency = Histogram("lat_seconds", "", ["target"], buckets=(1, 10), registry=registry)
    sampler = Sampler(registry, names={"lat_seconds_bucket"}, clock=iter([0, 10, 20]).__next__)
    for _ in range(50):
        latency.labels("t").observe(0.5)  # before the first snapshot: not in any interval
    await sampler.sample()
    for _ in range(9):
        latency.labels("t").observe(8)
    await sampler.sample()
    await sampler.sample()  # nothing observed in this interval: no point
    [(at, p50)] = quantile(sampler.snapshots(), "lat_seconds", 0.5, target="t")
    assert at == 10 and 1 < p50 <= 10


async def test_sampler_keeps_the_charted_names_and_the_probe_s_figures() -> None:
    registry = CollectorRegistry()
    Counter("kept", "", registry=registry).inc(3)
    Counter("ignored", "", registry=registry).inc()
    answers = [{"lag": [({"topic": "t"}, 4.0)]}] * 2

    async def probe() -> Samples:
        if not answers:
            raise TimeoutError  # Kafka out of reach: the snapshot has the registry only
        return answers.pop()

    sampler = Sampler(registry, probe=probe, names={"kept_total"}, keep=2)
    for _ in range(3):
        await sampler.sample()
    first, second = sampler.snapshots()  # only `keep` snapshots are kept
    assert set(first.samples) == {"kept_total", "lag"} and set(second.samples) == {"kept_total"}
    assert level(sampler.snapshots(), "kept_total") == [(first.at, 3.0), (second.at, 3.0)]


async def test_a_probe_failing_while_the_deployment_starts_is_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    outcomes: list[Exception | None] = [RuntimeError(), None, RuntimeError()]

    async def probe() -> Samples:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return {}

    sampler = Sampler(CollectorRegistry(), probe=probe, clock=lambda: now[0])
    with caplog.at_level("INFO", logger="orgsync_operations.sampler"):
        await sampler.sample()  # no group coordinator yet: a fresh broker
        await sampler.sample()
        await sampler.sample()  # after a success, a failure is news
    levels = [(r.levelname, r.getMessage().split(" error=")[0]) for r in caplog.records]
    assert levels == [
        ("INFO", "status sampler: probe not ready yet"),
        ("WARNING", "status sampler: probe failed"),
    ]


async def test_a_probe_that_never_works_warns_after_the_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]

    async def probe() -> Samples:
        raise RuntimeError

    sampler = Sampler(CollectorRegistry(), probe=probe, clock=lambda: now[0])
    with caplog.at_level("INFO", logger="orgsync_operations.sampler"):
        await sampler.sample()
        now[0] = 61.0
        await sampler.sample()
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING"]
