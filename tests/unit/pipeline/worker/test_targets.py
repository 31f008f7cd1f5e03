"""TargetWriter: direct writes while the target is healthy, its queue while it is not, and back
to direct only once the queue is empty."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from orgsync_kernel.events import DeadLetter, Write
from pipeline.sync.metrics import PipelineMetrics
from pipeline.sync.sink import Deferred
from pipeline.worker import targets
from pipeline.worker.targets import TargetWriter


def write(n: int) -> Write:
    return Write(
        route="src->tgt",
        target_org="tgt",
        target_module="Leads",
        source_org="src",
        source_module="Leads",
        source_id=str(n),
        operation="upsert",
        record={"Email": f"{n}@x.example"},
        match_field="Email",
        content_hash="h",
        modified_time=None,
    )


class FakeSink:
    def __init__(self) -> None:
        self.behaviour = "ok"
        self.written: list[str] = []

    async def apply(self, writes: Sequence[Write], *, direct: bool = False) -> list[DeadLetter]:
        assert direct
        if self.behaviour == "fail":
            raise Deferred("INTERNAL_ERROR")
        if self.behaviour == "slow":
            await asyncio.sleep(1.0)
        self.written += [w.source_id for w in writes]
        return []


class Queue:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.waiting = 0

    async def produce(self, topic: str, key: str, value: Any) -> Any:
        self.messages.append((topic, key))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def backlog(self, topic: str) -> int:
        return self.waiting


REGISTRY = CollectorRegistry()
STATE = PipelineMetrics.create(REGISTRY).target_state


def shown() -> str | None:
    """The state the gauge says the status page should show (the one at 1)."""
    found = [s.labels["state"] for m in REGISTRY.collect() for s in m.samples if s.value == 1]
    return found[0] if len(found) == 1 else None


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> tuple[TargetWriter, FakeSink, Queue]:
    monkeypatch.setattr(targets, "CHECK_SECONDS", 0.0)
    sink, queue = FakeSink(), Queue()
    writer = TargetWriter(
        "tgt",
        sink,
        "p.writes.tgt",
        queue.produce,  # type: ignore[arg-type]
        queue.backlog,
        direct_seconds=0.2,
        state=STATE,
    )
    return writer, sink, queue


async def test_a_healthy_target_is_written_directly(parts: Any) -> None:
    writer, sink, queue = parts
    dead, acks = await writer.write([write(1), write(2)])
    assert (dead, acks, sink.written, queue.messages) == ([], [], ["1", "2"], [])


@pytest.mark.parametrize("behaviour", ["fail", "slow"])
async def test_a_failing_or_slow_target_gets_its_writes_queued(parts: Any, behaviour: str) -> None:
    writer, sink, queue = parts
    await writer.write([write(1)])
    sink.behaviour = behaviour
    queue.waiting = 1
    _, acks = await writer.write([write(2)])
    assert len(acks) == 1 and queue.messages == [("p.writes.tgt", "src/Leads/2")]
    assert shown() == {"fail": "failing", "slow": "slow"}[behaviour]
    sink.behaviour = "ok"
    await writer.write([write(3)])  # still queued: the queue is not empty
    assert [key for _, key in queue.messages] == ["src/Leads/2", "src/Leads/3"]
    assert sink.written == ["1"]
    queue.waiting = 0
    await writer.write([write(4)])
    assert sink.written == ["1", "4"] and shown() == "ok"


async def test_after_a_rebalance_the_queue_is_checked_again(parts: Any) -> None:
    writer, sink, queue = parts
    await writer.write([write(1)])
    writer.recheck()
    queue.waiting = 3  # a previous owner queued writes
    await writer.write([write(2)])
    assert sink.written == ["1"] and len(queue.messages) == 1 and shown() == "catching_up"
