"""Batches from a Faust stream, lingering from their first event, drained on shutdown.

`Batches(stream, max_, linger, drain)` yields lists of values: a batch leaves when it holds
`max_` values or `linger` seconds after its first value arrived (Faust's `Stream.take` restarts
its timer whenever it waits, so a steady trickle makes batches of one). Only public stream API is
used: a reader task iterates `stream.noack().events()` into a bounded queue, and the events of a
batch are acknowledged (`ack`) only after the consumer of the batch has finished with it, so
their offsets commit after the outcome is recorded. A batch interrupted by cancellation is never
acknowledged: it is read again after a restart.

`Drain` lets the worker stop cleanly: once closing, no new batch is handed out, and `close()`
waits (bounded) until the batches already handed out are finished and acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import faust

_END = object()


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


async def _read(events: AsyncIterator[Any], queue: asyncio.Queue[Any]) -> None:
    async for event in events:
        await queue.put(event)


async def _first(queue: asyncio.Queue[Any], reader: asyncio.Task[None]) -> Any:
    """The next event; `_END` when the stream ended (the worker stops); the reader's error."""
    getter = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    reader.result()
    return _END


async def _collect(queue: asyncio.Queue[Any], reader: asyncio.Task[None], max_: int,
                   linger: float) -> list[Any]:
    """The next batch: wait for a first event, then take more until full or `linger` is up."""
    first = await _first(queue, reader)
    if first is _END:
        return []
    batch = [first]
    deadline = time.monotonic() + linger
    while len(batch) < max_:
        while not queue.empty() and len(batch) < max_:
            batch.append(queue.get_nowait())
        remaining = deadline - time.monotonic()
        if len(batch) >= max_ or remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            break
    return batch


async def take_lingering(stream: faust.StreamT[Any], max_: int, linger: float,
                         drain: Drain | None = None) -> AsyncIterator[list[Any]]:
    drain = drain or Drain()
    manual = stream.noack()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_)
    reader = asyncio.create_task(_read(manual.events(), queue))
    try:
        while True:
            events = await _collect(queue, reader, max_, linger)
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
