from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pipeline.batching import _Buffer


@dataclass
class Event:
    value: int  # its weight


async def events(weights: list[int]) -> AsyncIterator[Event]:
    for weight in weights:
        yield Event(weight)


async def test_a_batch_holds_at_most_max_units_of_weight_and_at_least_one_event() -> None:
    buffer = _Buffer(100, weight=lambda value: value)
    reader = asyncio.create_task(buffer.read(events([30, 30, 30, 30, 250, 5])))
    await asyncio.wait_for(buffer.full.wait(), 5)
    assert [e.value for e in buffer.take()] == [30, 30, 30]  # a fourth would make 120
    await asyncio.wait_for(buffer.full.wait(), 5)
    assert [e.value for e in buffer.take()] == [30]  # 30 + 250 is over
    await asyncio.wait_for(buffer.full.wait(), 5)
    assert [e.value for e in buffer.take()] == [250]  # heavier than a batch: alone
    await asyncio.wait_for(reader, 5)
    assert [e.value for e in buffer.take()] == [5] and not buffer.arrived.is_set()
