"""Backfill against the emulator: every record once into `changes`, resumable after a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from connectors.ingress import Backfill, Progress
from connectors.kafka import KafkaKV, KafkaProducer
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.zoho import ZohoClient
from orgsync_kernel.settings import Settings
from tests.support.ingress import (
    PARTITIONS,
    TopicReader,
    emulator_config,
    lead,
    make_settings,
    zoho_client,
)
from zoho_emulator import Emulator, load_config

RECORDS = 450  # more than two pages, mostly written within the same second


class Crash(Exception):
    pass


@pytest.fixture
async def source(kafka_broker: str, unique_name: str) -> AsyncIterator[tuple[Settings, ZohoClient]]:
    async with Emulator(load_config(emulator_config()), host="127.0.0.1", port=0) as emu:
        settings = make_settings(kafka_broker, unique_name, zoho_url=emu.url)
        await ensure_topics(
            KafkaCluster(kafka_broker), settings.topics.pipeline(settings.targets), PARTITIONS
        )
        async with zoho_client(settings) as zoho:
            outcomes = await zoho.insert(
                "Leads", [lead(f"L{i}") for i in range(RECORDS)], trigger=[]
            )
            assert all(o.ok for o in outcomes)
            yield settings, zoho


async def _kv(settings: Settings, producer: KafkaProducer) -> KafkaKV:
    kv = KafkaKV(producer.cluster, settings.topics.cursors, producer)
    await kv.start()
    return kv


async def test_backfill_publishes_every_record_once_and_resumes_after_a_crash(
    source: tuple[Settings, ZohoClient], producer: KafkaProducer, kafka_broker: str
) -> None:
    settings, zoho = source
    reports: list[Progress] = []

    def crash_after_first_page(progress: Progress) -> None:
        reports.append(progress)
        raise Crash

    first = Backfill(
        zoho,
        "Leads",
        producer,
        settings.topics.changes,
        await _kv(settings, producer),
        total=RECORDS,
        on_progress=crash_after_first_page,
    )
    with pytest.raises(Crash):
        await first.run()
    assert reports[0].done == 200 and reports[0].total == RECORDS and not reports[0].finished
    resumed = Backfill(
        zoho,
        "Leads",
        producer,
        settings.topics.changes,
        await _kv(settings, producer),
        total=RECORDS,
        on_progress=reports.append,
    )  # a fresh process: state from Kafka
    final = await resumed.run()
    assert (final.done, final.finished) == (RECORDS, True) and final.rate > 0
    done = [p.done for p in reports]
    assert done == sorted(done) and done[-1] == RECORDS and reports[-1].finished
    async with TopicReader(kafka_broker, settings.topics.changes) as changes:
        seen = await changes.until(lambda seen: len(seen) >= RECORDS)
        assert await changes.count() == RECORDS  # nothing published twice
    ids = {c["id"] for c in seen}
    assert len(ids) == RECORDS
    change = seen[0]
    assert (change["source"], change["org"], change["module"]) == ("backfill", "alpha", "Leads")
    assert change["record"]["Last_Name"].startswith("L") and change["modified_time"]
    again = await Backfill(
        zoho, "Leads", producer, settings.topics.changes, await _kv(settings, producer)
    ).run()
    assert again.finished and again.done == RECORDS  # finished runs stay finished


async def test_backfill_since_a_time_reads_only_later_records(
    source: tuple[Settings, ZohoClient], producer: KafkaProducer, kafka_broker: str
) -> None:
    settings, zoho = source
    future = datetime(2100, 1, 1, tzinfo=UTC)
    progress = await Backfill(
        zoho,
        "Leads",
        producer,
        settings.topics.changes,
        await _kv(settings, producer),
        since=future,
    ).run()
    assert (progress.done, progress.finished) == (0, True)
