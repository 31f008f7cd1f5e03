"""The worker's consumer fetches a stream partition only once it was sought to its committed
offset and the flow resumed: records fetched before Faust's seek were delivered twice or
skipped after a restart, records fetched between the seek and the flow's resumption dropped."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from orgsync_kernel.config_file import load_settings
from pipeline.worker.app import create_pipeline
from tests.support.config import ENV, EXAMPLE


def test_a_resumed_stream_partition_is_fetched_only_after_the_seek() -> None:
    async def scenario() -> None:
        pipeline = create_pipeline(load_settings(EXAMPLE, ENV), app_id="t-consumer-seek")
        consumer: Any = pipeline.app.consumer
        changes = TP(pipeline.held.get_topic_name(), 0)
        sought: list[bool] = []

        async def seek_to_committed() -> dict[TP, int]:
            sought.append(changes in consumer._get_active_partitions())
            return {changes: 12}

        consumer.seek_to_committed = seek_to_committed
        consumer.assignment = lambda: {changes}
        consumer.resume_partitions({changes})  # what Faust's recovery does before its seek
        assert changes not in consumer._get_active_partitions()
        await consumer.perform_seek()
        assert sought == [False]  # not fetched while the seek was under way
        assert changes in consumer._get_active_partitions()

    asyncio.run(scenario())


def test_a_sought_stream_partition_waits_for_the_flow_to_resume() -> None:
    async def scenario() -> None:
        pipeline = create_pipeline(load_settings(EXAMPLE, ENV), app_id="t-consumer-flow")
        consumer: Any = pipeline.app.consumer
        changes = TP(pipeline.held.get_topic_name(), 0)

        async def seek_to_committed() -> dict[TP, int]:
            return {changes: 12}

        consumer.seek_to_committed = seek_to_committed
        consumer.assignment = lambda: {changes}
        consumer.stop_flow()  # a rebalance: the fetch loop drops what it gets meanwhile
        consumer.resume_partitions({changes})
        await consumer.perform_seek()
        assert changes not in consumer._get_active_partitions()
        consumer.resume_flow()
        assert changes in consumer._get_active_partitions()

    asyncio.run(scenario())


def test_aiokafka_is_asked_for_a_snapshot_of_the_active_partitions() -> None:
    """aiokafka reads an empty set as every partition: Faust's live set, emptied during the
    wait, made it hand out records of inactive partitions that Faust then discarded."""

    async def scenario() -> None:
        pipeline = create_pipeline(load_settings(EXAMPLE, ENV), app_id="t-consumer-snapshot")
        consumer: Any = pipeline.app.consumer
        asked: list[Any] = []

        class Thread:
            async def getmany(self, active: Any, wait_s: float) -> dict[Any, Any]:
                asked.append(active)
                return {}

        consumer._thread = Thread()
        live = {TP(pipeline.held.get_topic_name(), 0)}
        await consumer._getmany(active_partitions=live, timeout=0.1)
        live.clear()
        assert asked[0] == {TP(pipeline.held.get_topic_name(), 0)}
        assert isinstance(asked[0], frozenset)

    asyncio.run(scenario())
