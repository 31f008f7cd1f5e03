"""`take_lingering`: Faust's `Stream.take`, but the linger counts from the first buffered event.

`Stream.take(max_, within)` restarts its timer whenever it starts waiting, so an event that
arrives just before the timeout leaves alone in a batch of one; under a steady trickle of events
that makes many small write calls. Here a batch leaves when it holds `max_` events or `linger`
seconds after its first event arrived. As in `take`, events are acknowledged only after the
consumer of the batch has finished with it (their offsets commit after the outcome is recorded).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import faust
from mode.utils.futures import notify


async def take_lingering(stream: faust.StreamT[Any], max_: int,
                         linger: float) -> AsyncIterator[list[Any]]:
    buffer: list[Any] = []
    events: list[Any] = []
    first, full, consumed = asyncio.Event(), asyncio.Event(), asyncio.Event()
    consuming: asyncio.Future[None] | None = None

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        if consuming is not None:
            try:
                await consuming
            finally:
                consuming = None
        buffer.append(value)
        events.append(stream.current_event)
        first.set()
        if len(buffer) >= max_:
            full.set()
            consumed.clear()
            await stream.wait(consumed)  # type: ignore[attr-defined]
        return value

    acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))  # type: ignore[attr-defined]
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(first)  # type: ignore[attr-defined]
            await stream.wait_for_stopped(full, timeout=linger)  # type: ignore[attr-defined]
            if not buffer:
                continue
            consuming = asyncio.get_running_loop().create_future()
            try:
                yield list(buffer)
            finally:
                buffer.clear()
                for event in events:
                    await stream.ack(event)
                events.clear()
                notify(consuming)
                first.clear()
                full.clear()
                consumed.set()
    finally:
        stream.enable_acks = acks
        stream._processors.remove(add_to_buffer)  # type: ignore[attr-defined]
