"""How a round hands its writes to a target org: directly, or through the target's queue.

A healthy target is written directly from the round (`TargetSink` with a single attempt per
call, within `sink.direct_seconds`). When a direct write fails transiently or takes too long,
the target's writes of that round and of every later round go to its queue instead, the topic
`writes.<target>`, which the cold-path agent `apply_to_<target>` works off with the full retry
budget: a target that is down or slow never holds up the rounds of the other targets.

The target goes back to direct writes only once its queue is empty (the agents' committed
offsets of `writes.<target>` reach its end): a record's later write never overtakes an earlier
one still queued. A worker starts every target as queued, and checks again after each
rebalance, because a previous owner of its partitions may have queued writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from prometheus_client import Gauge

from connectors.zoho import ZohoClient
from orgsync_kernel.events import DeadLetter, Write
from orgsync_kernel.settings import Settings
from pipeline.sync.metrics import PipelineMetrics
from pipeline.sync.sink import Deferred, TargetSink
from pipeline.worker.state import PipelineState

log = logging.getLogger(__name__)
CHECK_SECONDS = 1.0  # how often a queued target's backlog is measured
# ok: written directly; catching_up: queued until its queue is seen empty (start, rebalance);
# slow / failing: queued since a direct write timed out / failed transiently
TARGET_STATES = ("ok", "catching_up", "slow", "failing")

Produce = Callable[[str, str, Any], Awaitable[Awaitable[Any]]]
Backlog = Callable[[str], Awaitable[int]]


def target_sink(
    org: str,
    settings: Settings,
    clients: Mapping[str, ZohoClient],
    state: PipelineState,
    metrics: PipelineMetrics,
) -> TargetSink:
    routes = {route.name: route for route in settings.sync}
    return TargetSink(
        org,
        clients[org],
        routes,
        settings.sink,
        state.links,
        state.states,
        metrics,
        routed_back=bool(settings.routes_from(org)),
    )


class TargetWriter:
    def __init__(
        self,
        org: str,
        sink: TargetSink,
        queue_topic: str,
        produce: Produce,
        backlog: Backlog,
        direct_seconds: float,
        state: Gauge | None = None,
    ) -> None:
        self.org = org
        self.sink = sink
        self.queue_topic = queue_topic
        self.produce = produce
        self.backlog = backlog
        self.direct_seconds = direct_seconds
        self._state = state
        self.queued = True
        self._checked_at = -CHECK_SECONDS
        self._show("catching_up")

    def recheck(self) -> None:
        """After a rebalance: go direct again only after the queue was seen empty."""
        self.queued = True
        self._checked_at = -CHECK_SECONDS
        self._show("catching_up")

    def _show(self, current: str) -> None:
        if self._state is not None:
            for name in TARGET_STATES:
                self._state.labels(self.org, name).set(1 if name == current else 0)

    async def write(self, writes: Sequence[Write]) -> tuple[list[DeadLetter], list[Awaitable[Any]]]:
        """Dead letters of the direct writes, and the acknowledgements of the queued ones."""
        if not writes:
            return [], []
        await self._maybe_resume()
        if not self.queued:
            try:
                async with asyncio.timeout(self.direct_seconds):
                    return await self.sink.apply(writes, direct=True), []
            except (Deferred, TimeoutError) as reason:
                self.queued = True
                self._show("slow" if isinstance(reason, TimeoutError) else "failing")
                log.warning(
                    "target %s is slow or failing (%s): queueing its writes",
                    self.org,
                    type(reason).__name__,
                )
        return [], [await self.produce(self.queue_topic, w.key, w) for w in writes]

    async def _maybe_resume(self) -> None:
        now = time.monotonic()
        if not self.queued or now - self._checked_at < CHECK_SECONDS:
            return
        self._checked_at = now
        waiting = await self.backlog(self.queue_topic)
        if waiting == 0:
            self.queued = False
            self._show("ok")
            log.info("target %s: queue empty, writing directly again", self.org)
