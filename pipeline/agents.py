"""The agents of the pipeline: each an `async for` over its topic calling pure code and clients.

Every agent that writes a table runs with concurrency 1 and scales with partitions. An event is
acknowledged only after its outputs are produced and its table updates are made (Faust flushes
the producer before it commits offsets), so a crash replays rather than loses; the target
upserts on a match key, so a replay never creates a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any

import faust

from connectors.zoho import BackoffPolicy, ZohoClient, ZohoError
from orgsync_kernel.events import Change, DeadLetter, HeldChange, Hint, dead_letter, split_key
from orgsync_kernel.settings import Settings
from pipeline.app import Pipeline
from pipeline.batching import Drain, take_lingering
from pipeline.faust_patches import produce
from pipeline.fetch import fetch_group, group_hints
from pipeline.metrics import PipelineMetrics
from pipeline.processor import Metadata, Processed, Processor
from pipeline.sink import TargetSink

log = logging.getLogger(__name__)
HELD_POLL_SECONDS = 0.2
CHANGE_BATCH = 100
DEFER_SECONDS = 1.0  # a change held only because a target is unreachable comes back this late


class Agents:
    """Registers the agents of `pipeline` on its app; holds what they share."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        clients: Mapping[str, ZohoClient],
        metrics: PipelineMetrics,
        drain: Drain | None = None,
    ) -> None:
        self.p = pipeline
        self.drain = drain or Drain()  # closed by the worker on SIGTERM (orgsync/runner.py)
        self.settings = settings
        self.clients = clients
        self.metrics = metrics
        self.processor = Processor(
            settings, Metadata(clients), pipeline.fingerprints, pipeline.links, pipeline.states
        )
        self._retry = BackoffPolicy(
            max_attempts=settings.sink.max_attempts,
            base=settings.sink.backoff_initial_ms / 1000,
            cap=settings.sink.backoff_max_ms / 1000,
        )
        app = pipeline.app
        app.agent(pipeline.hints, name="fetch_changed_records")(self.fetch_changed_records)
        app.agent(pipeline.changes, name="sync_changes")(self.sync_changes)
        app.agent(pipeline.held, name="release_held_changes")(self.release_held_changes)
        routes = {route.name: route for route in settings.sync}
        for org, topic in pipeline.writes.items():
            sink = TargetSink(
                org,
                clients[org],
                routes,
                settings.sink,
                pipeline.links,
                pipeline.states,
                metrics,
                routed_back=bool(settings.routes_from(org)),
            )
            app.agent(topic, name=f"apply_to_{org}")(self._sink_agent(sink))

    async def _start_clients(self) -> None:
        for client in self.clients.values():
            await client.start()

    # --- hints -> changes ------------------------------------------------------------------

    async def fetch_changed_records(self, stream: faust.StreamT[Hint]) -> None:
        await self._start_clients()
        linger = self.settings.fetch.linger_ms / 1000
        async for hints in take_lingering(
            stream, self.settings.fetch.batch_size, linger, self.drain
        ):
            for (org, module), group in group_hints(hints).items():
                for change in await self._fetch(org, module, group):
                    self.metrics.changes.labels(org=org, operation=change.operation).inc()
                    await self._send(self.p.changes, change.key, change)

    async def _fetch(self, org: str, module: str, group: dict[str, Hint]) -> list[Change]:
        """The group's changes; its hints go to the DLQ when the read fails for good (the
        client retried it within the fetch budget, `sink.max_attempts` and its backoff)."""
        try:
            self.metrics.fetch_calls.labels(org=org).inc()
            return await fetch_group(self.clients[org], module, group, self._retry)
        except ZohoError as error:
            log.warning(
                "fetch failed org=%s module=%s records=%d error=%s",
                org,
                module,
                len(group),
                error.zoho_code,
            )
            for hint in group.values():
                await self._dead(
                    dead_letter(
                        "",
                        "fetch",
                        hint.key,
                        hint.asdict(),
                        error.zoho_code,
                        error.zoho_message,
                        attempts=self._retry.max_attempts,
                    )
                )
            return []

    # --- changes -> writes -----------------------------------------------------------------

    async def sync_changes(self, stream: faust.StreamT[Change]) -> None:
        await self._start_clients()
        await self.processor.metadata.warm(self.settings)
        # What arrived meanwhile, no lingering: one Kafka acknowledgement to await per batch.
        async for changes in take_lingering(stream, CHANGE_BATCH, 0.0, self.drain):
            try:
                deliveries = [d for change in changes for d in await self._process(change)]
                await asyncio.gather(*deliveries)
            except BaseException:
                self.processor.discard_unconfirmed()
                raise
            self.processor.confirm()

    async def _process(self, change: Change) -> list[Awaitable[Any]]:
        """Produce what `change` leads to; the acknowledgements of its writes."""
        out = await self.processor.process(change)
        for reason, count in out.drops.items():
            self.metrics.drops.labels(org=change.org, reason=reason).inc(count)
        deliveries = [
            await self._send(self.p.writes[write.target_org], write.key, write)
            for write in out.writes
        ]
        for rejection in out.rejected:
            await self._dead(
                dead_letter(
                    rejection.route,
                    "transform",
                    change.key,
                    change.asdict(),
                    "REJECTED",
                    rejection.reason,
                )
            )
        if out.missing_parents or out.deferred:
            await self._hold(change, out)
        return deliveries

    async def _hold(self, change: Change, out: Processed) -> None:
        now = time.time()
        for parent in set(out.missing_parents.values()):
            org, module, record_id = split_key(parent)
            hint = Hint(
                org=org,
                module=module,
                id=record_id,
                operation="update",
                source="lookup",
                received_at=now,
            )
            await self._send(self.p.hints, hint.key, hint)
        held = HeldChange(change=change, held_since=now, parents=sorted(out.missing_parents))
        await self._send(self.p.held, change.key, held)

    # --- children waiting for their parents ------------------------------------------------

    async def release_held_changes(self, stream: faust.StreamT[HeldChange]) -> None:
        """Send a held change back to `changes` (only sync_changes writes its table) once every
        parent is linked; past `processor.parent_wait_seconds` it goes to the DLQ. A change
        whose parents are still missing goes back to the end of `held` instead of blocking the
        partition, so one orphan never holds up the children queued behind it."""
        wait = self.settings.processor.parent_wait_seconds
        async for held in stream:
            if not held.parents:
                await asyncio.sleep(max(0.0, held.held_since + DEFER_SECONDS - time.time()))
                await self._send(self.p.changes, held.change.key, held.change)
                continue
            # Links arrive from other workers through the changelog: nothing to await but time.
            await asyncio.sleep(max(0.0, held.checked_at + HELD_POLL_SECONDS - time.time()))
            if self._linked(held.parents):
                await self._send(self.p.changes, held.change.key, held.change)
            elif time.time() < held.held_since + wait:
                await self._send(
                    self.p.held,
                    held.change.key,
                    HeldChange(
                        change=held.change,
                        held_since=held.held_since,
                        parents=held.parents,
                        checked_at=time.time(),
                    ),
                )
            else:
                missing = [p for p in held.parents if self.p.links.get(p) is None]
                await self._dead(
                    dead_letter(
                        "",
                        "parent",
                        held.change.key,
                        held.change.asdict(),
                        "PARENT_NOT_SYNCED",
                        f"parent records never reached the target within {wait:g}s: "
                        f"{', '.join(missing)}",
                    )
                )

    def _linked(self, parents: list[str]) -> bool:
        return all(self.p.links.get(parent) is not None for parent in parents)

    # --- writes -> target ------------------------------------------------------------------

    def _sink_agent(self, sink: TargetSink) -> Any:
        async def apply_to_target(stream: faust.StreamT[Any]) -> None:
            await self._start_clients()
            linger = self.settings.sink.linger_ms / 1000
            async for writes in take_lingering(
                stream, self.settings.sink.batch_size, linger, self.drain
            ):
                for letter in await sink.apply(writes):
                    await self._dead(letter)

        return apply_to_target

    async def _send(self, topic: faust.TopicT, key: str, value: faust.Record) -> Awaitable[Any]:
        """Produce `value`; returns the broker's acknowledgement to await."""
        return await produce(self.p.app, topic.get_topic_name(), key, value)

    async def _dead(self, letter: DeadLetter) -> None:
        self.metrics.dead_letters.labels(route=letter.route, stage=letter.stage).inc()
        await self._send(self.p.dlq, letter.key, letter)
