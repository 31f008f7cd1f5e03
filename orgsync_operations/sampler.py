"""The last hour of the status page's figures, sampled in memory.

    sampler = Sampler(registry, probe=kafka_probe)   # every `interval` s, `keep` snapshots
    await sampler.start() ... await sampler.stop()
    rate(sampler.snapshots(), "orgsync_changes_total")            # per second, per interval
    quantile(sampler.snapshots(), "orgsync_e2e_latency_seconds", 0.99)

A snapshot holds the cumulative values of the charted metrics of the registry (counters,
histogram buckets, gauges) and what the `probe` measured in Kafka. Rates and quantiles are
differences between consecutive snapshots, so a counter's absolute value never matters, only
its growth; a counter that went down (a reset) counts as no growth for that interval.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from orgsync_operations.periodic import Periodic

log = logging.getLogger(__name__)
Labels = Mapping[str, str]
Samples = dict[str, list[tuple[Labels, float]]]
Point = tuple[float, float]  # (epoch seconds, value)
Series = list[Point]
Probe = Callable[[], Awaitable[Samples]]
# A probe failing before it ever succeeded, within this long of the start, is the deployment
# coming up (a fresh broker has no group coordinator yet: GroupCoordinatorNotAvailableError),
# logged at info; later, or after a success, a failure is a warning.
STARTING_SECONDS = 60.0

CHARTED = frozenset(
    {
        "orgsync_writes_total",
        "orgsync_e2e_latency_seconds_bucket",
        "orgsync_zoho_credits_remaining",
        "orgsync_zoho_throttled_total",
    }
)


def collect(registry: CollectorRegistry, names: Collection[str] | None = None) -> Samples:
    """The registry's samples by name (only `names` when given)."""
    found: Samples = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if names is None or sample.name in names:
                found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def matches(labels: Labels, match: Labels, unless: Labels) -> bool:
    return all(labels.get(k) == v for k, v in match.items()) and not any(
        labels.get(k) == v for k, v in unless.items()
    )


def total(samples: Samples, name: str, unless: Labels | None = None, **match: str) -> float:
    """The sum of `name` over the label sets that have `match` and none of `unless`."""
    return sum(v for labels, v in samples.get(name, []) if matches(labels, match, unless or {}))


def label_values(samples: Samples, name: str, label: str) -> list[str]:
    return sorted({labels[label] for labels, _ in samples.get(name, []) if label in labels})


@dataclass(frozen=True)
class Snapshot:
    at: float
    samples: Samples


def pairs(snapshots: Sequence[Snapshot]) -> list[tuple[Snapshot, Snapshot]]:
    return [(a, b) for a, b in zip(snapshots, snapshots[1:], strict=False) if b.at > a.at]


def rate(
    snapshots: Sequence[Snapshot], name: str, unless: Labels | None = None, **match: str
) -> Series:
    """Growth per second of a cumulative total, for each interval (dated by its end)."""
    series: Series = []
    for a, b in pairs(snapshots):
        if name in a.samples and name in b.samples:
            grown = total(b.samples, name, unless, **match) - total(
                a.samples, name, unless, **match
            )
            series.append((b.at, max(grown, 0.0) / (b.at - a.at)))
    return series


def level(snapshots: Sequence[Snapshot], name: str, **match: str) -> Series:
    """A gauge's value (summed over the matching label sets) at each snapshot that has it."""
    return [(s.at, total(s.samples, name, None, **match)) for s in snapshots if name in s.samples]


def buckets(samples: Samples, name: str, **match: str) -> dict[float, float]:
    """Cumulative counts by upper bound of a histogram's `_bucket` samples."""
    found: dict[float, float] = {}
    for labels, value in samples.get(f"{name}_bucket", []):
        if matches(labels, match, {}):
            bound = float(labels["le"])
            found[bound] = found.get(bound, 0.0) + value
    return found


def histogram_quantile(q: float, counts: Mapping[float, float]) -> float | None:
    """The q-quantile of cumulative bucket counts, interpolated linearly within its bucket as
    Prometheus does; the largest finite bound when it falls in +Inf; None without data."""
    bounds = sorted(counts)
    if not bounds or counts[bounds[-1]] <= 0:
        return None
    rank = q * counts[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if counts[bound] >= rank:
            if math.isinf(bound):
                return lower
            inside = counts[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, counts[bound]
    return lower


def quantile(snapshots: Sequence[Snapshot], name: str, q: float, **match: str) -> Series:
    """The q-quantile of the observations of each interval (intervals without any: none)."""
    series: Series = []
    for a, b in pairs(snapshots):
        before, after = buckets(a.samples, name, **match), buckets(b.samples, name, **match)
        grown = {bound: max(n - before.get(bound, 0.0), 0.0) for bound, n in after.items()}
        value = histogram_quantile(q, grown)
        if value is not None:
            series.append((b.at, value))
    return series


class Sampler:
    """Snapshots of `names` in the registry, plus what `probe` returns, every `interval` s."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        probe: Probe | None = None,
        interval: float = 10.0,
        keep: int = 360,
        names: Collection[str] = CHARTED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry, self.probe, self.names, self.clock = registry, probe, names, clock
        self._snapshots: deque[Snapshot] = deque(maxlen=keep)
        self._every = Periodic(self.sample, interval, "orgsync-status-sampler")
        self._since: float | None = None  # the start (or the first failure, without start)
        self._probed = False

    def snapshots(self) -> list[Snapshot]:
        return list(self._snapshots)

    async def sample(self) -> None:
        samples = collect(self.registry, self.names)
        if self.probe is not None:
            try:
                samples |= await self.probe()
                self._probed = True
            except Exception as error:  # a figure missing from one snapshot, not a dead loop
                self._failed(error)
        self._snapshots.append(Snapshot(self.clock(), samples))

    def _failed(self, error: Exception) -> None:
        now = self.clock()
        self._since = now if self._since is None else self._since
        if not self._probed and now - self._since < STARTING_SECONDS:
            log.info("status sampler: probe not ready yet error=%s", type(error).__name__)
        else:
            log.warning("status sampler: probe failed error=%s", type(error).__name__)

    async def start(self) -> None:
        self._since = self.clock()
        self._every.start()

    async def stop(self) -> None:
        await self._every.stop()
