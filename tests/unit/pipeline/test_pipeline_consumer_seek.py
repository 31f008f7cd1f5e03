"""The worker's consumer fetches a stream partition only once it was sought to its committed
offset: records fetched before Faust's seek were delivered twice or skipped after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP
from pipeline_fixtures import ENV, EXAMPLE

from pipeline.app import create_pipeline
from pipeline.settings import load_settings


def test_a_resumed_stream_partition_is_fetched_only_after_the_seek() -> None:
    async def scenario() -> None:
        pipeline = create_pipeline(load_settings(EXAMPLE, ENV), app_id="t-consumer-seek")
        consumer: Any = pipeline.app.consumer
        changes = TP(pipeline.changes.get_topic_name(), 0)
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
