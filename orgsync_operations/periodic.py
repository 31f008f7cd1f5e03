"""A step run every few seconds in a background task: the status sampler, the Kafka monitor."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Periodic:
    """Runs `step` now and then every `interval` seconds, from `start` until `stop`. The step
    handles its own errors: one that escapes ends the task."""

    def __init__(self, step: Callable[[], Awaitable[None]], interval: float, name: str) -> None:
        self.step, self.interval, self.name = step, interval, name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self.step()
            await asyncio.sleep(self.interval)
