"""What a round reads from Zoho: the hinted records, and the targets of its two-way writes
(≤ 100 ids per call, the org and module groups concurrently)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from connectors.zoho import BackoffPolicy, ZohoClient, ZohoError
from orgsync_kernel.events import Change, DeadLetter, Hint, dead_letter
from pipeline.sync.fetch import fetch_group, group_hints
from pipeline.sync.metrics import PipelineMetrics

log = logging.getLogger(__name__)


class Reads:
    def __init__(
        self,
        clients: Mapping[str, ZohoClient],
        metrics: PipelineMetrics,
        retry: BackoffPolicy,
        batch_size: int,
    ) -> None:
        self.clients = clients
        self.metrics = metrics
        self.retry = retry
        self.batch_size = batch_size

    async def hinted(self, hints: list[Hint], dead: list[DeadLetter]) -> list[Change]:
        """The hinted records; those that cannot be read go to `dead`."""
        return await self._read(hints, dead)

    async def targets(self, targets: list[Hint]) -> list[Change]:
        """Each target record as it is now, to be observed before anything is written over
        it: an edit made there since orgsync last saw it is then known (and synced back),
        never overwritten by an older value. Zoho has no conditional write; this read is
        what stands in for one. One that fails is skipped: the writes decide on the state
        known so far."""
        return await self._read(targets, None) if targets else []

    async def _read(self, hints: list[Hint], dead: list[DeadLetter] | None) -> list[Change]:
        groups = group_hints(hints).items()
        results = await asyncio.gather(
            *(self._group(org, module, group, dead) for (org, module), group in groups)
        )
        return [change for changes in results for change in changes]

    async def _group(
        self, org: str, module: str, group: dict[str, Hint], dead: list[DeadLetter] | None
    ) -> list[Change]:
        try:
            self.metrics.fetch_calls.labels(org=org).inc()
            return await fetch_group(self.clients[org], module, group, self.retry, self.batch_size)
        except ZohoError as error:
            log.warning(
                "fetch failed org=%s module=%s records=%d error=%s",
                org,
                module,
                len(group),
                error.zoho_code,
            )
            if dead is not None:
                dead += [
                    dead_letter(
                        "",
                        "fetch",
                        hint.key,
                        hint.asdict(),
                        error.zoho_code,
                        error.zoho_message,
                        attempts=self.retry.max_attempts,
                    )
                    for hint in group.values()
                ]
            return []
