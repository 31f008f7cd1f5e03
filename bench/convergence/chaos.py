"""A lossy stand-in for Zoho's notifications: every write in every org (orgsync's own too, as
Zoho notifies them) becomes a hint in `<prefix>.hints`, except that a seeded share is dropped
(the reconciliation poller has to find those), duplicated, or delayed by a few seconds (so it
arrives out of order)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.convergence.plan import MODULE, Chaos
from orgsync_kernel.events import OPERATIONS, Hint
from zoho_emulator import Emulator

POLL_S = 0.05


class ChaosNotifier:
    def __init__(
        self,
        emu: Emulator,
        producer: AIOKafkaProducer,
        topic: str,
        orgs: Iterable[str],
        chaos: Chaos,
        rng: random.Random,
    ) -> None:
        self.emu, self.producer, self.topic = emu, producer, topic
        self.chaos, self.rng = chaos, rng
        self.seen = dict.fromkeys(orgs, 0)
        self.counts: Counter[str] = Counter()
        self._later: set[asyncio.Task[None]] = set()

    async def forward(self) -> None:
        while True:
            for org, seen in self.seen.items():
                log = self.emu.state.orgs[org].write_log
                for entry in log[seen:]:
                    if entry["module"] == MODULE:
                        await self.notify(org, entry)
                self.seen[org] = len(log)
            await asyncio.sleep(POLL_S)  # the write log has no listener for a whole run

    async def notify(self, org: str, entry: dict[str, Any]) -> None:
        self.counts["writes"] += 1
        roll, chaos = self.rng.random(), self.chaos
        op = entry["op"] if entry["op"] in OPERATIONS else "update"
        hint = Hint(
            org=org,
            module=MODULE,
            id=entry["id"],
            operation=op,
            source="notification",
            received_at=time.time(),
        )
        if roll < chaos.drop:
            self.counts["dropped"] += 1
        elif roll < chaos.drop + chaos.delay:
            self.counts["delayed"] += 1
            task = asyncio.create_task(self._send_later(hint, self.rng.uniform(*chaos.delay_s)))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
        else:
            await self.send(hint)
            if self.rng.random() < chaos.duplicate:
                self.counts["duplicated"] += 1
                await self.send(hint)

    async def send(self, hint: Hint) -> None:
        await self.producer.send_and_wait(self.topic, key=hint.key.encode(), value=hint.dumps())
        self.counts["sent"] += 1

    async def _send_later(self, hint: Hint, seconds: float) -> None:
        await asyncio.sleep(seconds)  # the delay is the fault being injected
        await self.send(hint)

    async def stop(self) -> None:
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)


@contextlib.asynccontextmanager
async def notifying(notifier: ChaosNotifier) -> AsyncIterator[ChaosNotifier]:
    task = asyncio.create_task(notifier.forward())
    try:
        yield notifier
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await notifier.stop()
