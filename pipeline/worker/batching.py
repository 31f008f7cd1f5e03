"""Batches from a Faust stream, lingering from their first event, drained on shutdown.

`Batches(stream, max_, linger, drain)` yields lists of values: a batch leaves when it holds
`max_` values or `linger` seconds after its first value arrived (Faust's `Stream.take` restarts
its timer whenever it waits, so a steady trickle makes batches of one). Only public stream API is
used: a reader task iterates `stream.noack().events()` into a bounded buffer, and the events of a
batch are acknowledged (`ack`) only after the consumer of the batch has finished with it, so
their offsets commit after the outcome is recorded. A batch interrupted by cancellation is never
acknowledged: it is read again after a restart.

`Drain` lets the worker stop cleanly: once closing, no new batch is handed out, and `close()`
waits (bounded) until the batches already handed out are finished and acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, cast

import faust


class Drain:
    """Counts the batches in flight; `close(timeout)` stops new ones and waits for the rest."""

    def __init__(self) -> None:
        self.closing = False
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self._running += 1
        self._idle.clear()

    def leave(self) -> None:
        self._running -= 1
        if self._running == 0:
            self._idle.set()

    @property
    def running(self) -> int:
        return self._running

    async def close(self, within: float) -> bool:
        """Stop handing out batches; True when every batch in flight finished `within` s."""
        self.closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True


class _Buffer:
    """Events read ahead of the batch being formed, at most `max_` (the reader waits beyond).

    The collector wakes up twice per batch (first event; full or linger over), not per event.
    """

    def __init__(self, max_: int) -> None:
        self.max_ = max_
        self.events: deque[Any] = deque()
        self.arrived, self.full, self.space = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.space.set()

    async def read(self, events: AsyncIterator[Any]) -> None:
        async for event in events:
            while len(self.events) >= self.max_:
                self.space.clear()
                await self.space.wait()
            self.events.append(event)
            self.arrived.set()
            if len(self.events) >= self.max_:
                self.full.set()

    def take(self) -> list[Any]:
        batch = [self.events.popleft() for _ in range(min(self.max_, len(self.events)))]
        if len(self.events) < self.max_:
            self.full.clear()
        if not self.events:
            self.arrived.clear()
        self.space.set()
        return batch


async def _until(
    event: asyncio.Event, reader: asyncio.Task[None], within: float | None = None
) -> None:
    """Wait for `event`, or for the reader to end (its error is raised), or `within` s."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter, reader}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if reader.done() and not event.is_set():
        reader.result()


async def _collect(buffer: _Buffer, reader: asyncio.Task[None], linger: float) -> list[Any]:
    """The next batch: wait for a first event, then until the buffer is full or `linger` is
    up; [] when the stream ended (the worker stops)."""
    await _until(buffer.arrived, reader)
    if not buffer.events:
        return []
    await _until(buffer.full, reader, linger)
    return buffer.take()


async def take_lingering(
    stream: faust.StreamT[Any], max_: int, linger: float, drain: Drain | None = None
) -> AsyncIterator[list[Any]]:
    drain = drain or Drain()
    manual = cast("faust.Stream[Any]", stream).noack()  # Stream API, missing from StreamT
    buffer = _Buffer(max_)
    reader = asyncio.create_task(buffer.read(manual.events()))
    try:
        while True:
            events = await _collect(buffer, reader, linger)
            if not events:
                return  # the stream ended
            if drain.closing:
                break  # not acknowledged: read again by the next worker
            drain.enter()
            try:
                yield [event.value for event in events]
                for event in events:
                    await manual.ack(event)
            finally:
                drain.leave()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    await asyncio.Event().wait()  # the worker is stopping: wait here until it cancels us
