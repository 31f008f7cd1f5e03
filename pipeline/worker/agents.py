"""The cold-path agents: each an `async for` over its topic calling pure code and clients.

- `apply_to_<target>` works off a target's queue (`writes.<target>`), which the round loop fills
  while that target is slow or failing, with the sink's full retry budget;
- `release_held_changes` sends a child back to `fetched` once its parents are linked;
- `sync_related` syncs a record's notes, attachments and tags once it is linked
  (pipeline/sync/related.py).
An event is acknowledged only after its outcome is in Kafka (writes done, state and dead
letters acknowledged), so a crash replays rather than loses; upserts on the match key make a
replay harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

import faust

from connectors.zoho import RetryableError, ZohoClient
from orgsync_kernel.events import DeadLetter, HeldChange, RelatedWork, dead_letter, hint_for
from orgsync_kernel.settings import Settings
from pipeline.sync.metrics import PipelineMetrics
from pipeline.sync.related import RelatedSync, Unlinked
from pipeline.sync.sink import TargetSink
from pipeline.worker.app import Pipeline
from pipeline.worker.batching import Drain, take_lingering
from pipeline.worker.faust_patches import produce
from pipeline.worker.state import PipelineState
from pipeline.worker.targets import target_sink

HELD_POLL_SECONDS = 0.2
DEFER_SECONDS = 1.0  # a change held only because a target is unreachable comes back this late


class Agents:
    """Registers the cold-path agents of `pipeline` on its app; holds what they share."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        clients: Mapping[str, ZohoClient],
        state: PipelineState,
        metrics: PipelineMetrics,
        drain: Drain | None = None,
    ) -> None:
        self.p = pipeline
        self.drain = drain or Drain()  # closed by the worker on SIGTERM (orgsync/runner.py)
        self.settings = settings
        self.state = state
        self.metrics = metrics
        app = pipeline.app
        app.agent(pipeline.held, name="release_held_changes")(self.release_held_changes)
        routes = {route.name: route for route in settings.sync}
        self.related = RelatedSync(routes, clients, state.links)
        app.agent(pipeline.related, name="sync_related")(self.sync_related)
        for org, topic in pipeline.writes.items():
            sink = target_sink(org, settings, clients, state, metrics)
            app.agent(topic, name=f"apply_to_{org}")(self._sink_agent(sink))

    # --- children waiting for their parents ------------------------------------------------

    async def release_held_changes(self, stream: faust.StreamT[HeldChange]) -> None:
        """Send a held change back to `fetched` (the round loop) once every parent is linked;
        past `processor.parent_wait_seconds` it goes to the DLQ. A change whose parents are
        still missing goes back to the end of `held` instead of blocking the partition, so one
        orphan never holds up the children queued behind it."""
        wait = self.settings.processor.parent_wait_seconds
        fetched = self.settings.topics.fetched
        async for held in stream:
            if not held.parents:
                await asyncio.sleep(max(0.0, held.held_since + DEFER_SECONDS - time.time()))
                await self._send(fetched, held.change.key, held.change)
                continue
            # Links arrive from other workers through their topic: nothing to await but time.
            await asyncio.sleep(max(0.0, held.checked_at + HELD_POLL_SECONDS - time.time()))
            if self._linked(held.parents):
                await self._send(fetched, held.change.key, held.change)
            elif time.time() < held.held_since + wait:
                await self._send(
                    self.settings.topics.held,
                    held.change.key,
                    HeldChange(
                        change=held.change,
                        held_since=held.held_since,
                        parents=held.parents,
                        checked_at=time.time(),
                    ),
                )
            else:
                missing = [p for p in held.parents if self.state.links.get(p) is None]
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

    # --- notes, attachments and tags ----------------------------------------------------

    async def sync_related(self, stream: faust.StreamT[RelatedWork]) -> None:
        """Sync a record's related items once it is linked; while it is not (or its orgs do
        not answer, or records of a related list are not linked yet: those are hinted once)
        the work goes back to the end of `related`, up to `processor.parent_wait_seconds`,
        then to the DLQ."""
        async for work in stream:
            await asyncio.sleep(max(0.0, work.checked_at + HELD_POLL_SECONDS - time.time()))
            try:
                letters = await self.related.sync(work)
                problem = "the record never reached the target"
                if letters is None and not work.checked_at:
                    await self._ask([work.key])  # its link may be on another worker
            except Unlinked as missing:
                letters, problem = None, f"{missing} never reached the target"
                if not work.asked:  # once, also when the record itself was asked for before
                    await self._ask(missing.keys)
                    work = work.derive(asked=True)
            except RetryableError as error:
                letters, problem = None, f"{error.zoho_code} from Zoho"
            for letter in letters if letters is not None else await self._later(work, problem):
                await self._dead(letter)
            await self.state.flush()

    async def _later(self, work: RelatedWork, problem: str) -> list[DeadLetter]:
        wait = self.settings.processor.parent_wait_seconds
        if time.time() < work.queued_at + wait:
            again = work.derive(checked_at=time.time())
            await self._send(self.settings.topics.related, work.key, again)
            return []
        message = f"related items not synced within {wait:g}s: {problem}"
        return [
            dead_letter(
                work.route, "related", work.key, work.asdict(), "RELATED_NOT_SYNCED", message
            )
        ]

    async def _ask(self, keys: Iterable[str]) -> None:
        """Hint these records as lookups: the worker that holds their links publishes them
        to every worker (pipeline/worker/tables.py), and syncs those not synced yet."""
        for key in keys:
            hint = hint_for(key, "lookup", time.time())
            await self._send(self.settings.topics.hints, hint.key, hint)

    def _linked(self, parents: list[str]) -> bool:
        return all(self.state.links.get(parent) is not None for parent in parents)

    # --- a target's queue -> target ----------------------------------------------------------

    def _sink_agent(self, sink: TargetSink) -> Any:
        async def apply_to_target(stream: faust.StreamT[Any]) -> None:
            linger = self.settings.sink.linger_ms / 1000
            async for writes in take_lingering(
                stream, self.settings.sink.batch_size, linger, self.drain
            ):
                letters = await sink.apply(writes)
                await asyncio.gather(*[await self._dead(letter) for letter in letters])
                await self.state.flush()

        return apply_to_target

    async def _send(self, topic: str, key: str, value: faust.Record) -> Awaitable[Any]:
        """Produce `value`; returns the broker's acknowledgement to await."""
        return await produce(self.p.app, topic, key, value)

    async def _dead(self, letter: DeadLetter) -> Awaitable[Any]:
        self.metrics.dead_letters.labels(route=letter.route, stage=letter.stage).inc()
        return await self._send(self.settings.topics.dlq, letter.key, letter)
