"""How every group of Prometheus metrics is declared: a NamedTuple of metrics and one `create`.

    class FooMetrics(NamedTuple):
        calls: Counter

        @classmethod
        def create(cls, registry: CollectorRegistry | None = None) -> FooMetrics:
            return create_metrics(cls, registry, calls=counter("orgsync_foo_total", "...", "org"))

A group is created against a given registry (tests pass a fresh one); without one it gets a
private registry. Label sets are bounded by each group's own rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Group = TypeVar("Group")
Spec = Callable[[CollectorRegistry], Any]


def counter(name: str, documentation: str, *labels: str) -> Spec:
    return lambda registry: Counter(name, documentation, list(labels), registry=registry)


def gauge(name: str, documentation: str, *labels: str) -> Spec:
    return lambda registry: Gauge(name, documentation, list(labels), registry=registry)


def histogram(
    name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
) -> Spec:
    return lambda registry: Histogram(
        name, documentation, list(labels), buckets=buckets, registry=registry
    )


def create_metrics(
    group: Callable[..., Group], registry: CollectorRegistry | None, **specs: Spec
) -> Group:
    """The group's metrics on `registry` (a fresh private registry when None)."""
    reg = registry if registry is not None else CollectorRegistry(auto_describe=True)
    fields = getattr(group, "_fields", ())
    extra = {"registry": reg} if "registry" in fields else {}
    return group(**extra, **{name: make(reg) for name, make in specs.items()})
