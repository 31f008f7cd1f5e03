"""The component tier's view of one worker: its round loop and state, its cold-path agents,
and reads of its topics."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from orgsync_kernel.settings import Settings
from pipeline.worker.agents import Agents
from pipeline.worker.app import Pipeline
from pipeline.worker.loop import RoundLoop
from pipeline.worker.state import PipelineState


@dataclass
class Stage:
    """One worker without its consumers: the round loop ready, the agents' producer started."""

    settings: Settings
    pipeline: Pipeline
    agents: Agents
    rounds: RoundLoop
    store: PipelineState
    broker: str

    def agent(self, name: str) -> Any:
        """The agent `name` (as Agents registers it), to wrap in its `test_context()`."""
        return self.pipeline.app.agents[name]

    async def read(self, topic: str, expect: int, within: float = 15.0) -> list[bytes]:
        """The values on `topic` from its beginning, once `expect` arrived (bounded poll)."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.broker,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        values: list[bytes] = []
        try:
            deadline = time.monotonic() + within
            while len(values) < expect and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                values += [m.value for ms in batches.values() for m in ms]
        finally:
            await consumer.stop()
        return values
