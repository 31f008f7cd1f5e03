"""The processor's dedup fingerprints count only once the change's writes are durable."""

from __future__ import annotations

import asyncio
from typing import Any

from orgsync_kernel.config_file import load_settings
from orgsync_kernel.events import Change
from pipeline.sync.metadata import Metadata
from pipeline.sync.processor import Processed, Processor
from tests.support.config import ENV, EXAMPLE
from tests.support.metadata import FakeOrg

FIELDS = [
    {"api_name": "Account_Name", "data_type": "text"},
    {"api_name": "Origin_Record_Id", "data_type": "text", "unique": True},
]


def change() -> Change:
    return Change(
        org="regional_in",
        module="Accounts",
        id="4001",
        operation="update",
        modified_time="2026-01-05T10:00:00+00:00",
        record={"id": "4001", "Account_Name": "Acme"},
        source="notification",
        received_at=0.0,
    )


def test_a_change_whose_writes_were_never_produced_is_not_dropped_when_it_comes_again() -> None:
    settings = load_settings(EXAMPLE, ENV)
    fingerprints: dict[str, Any] = {}
    processor = Processor(
        settings, Metadata({org: FakeOrg(FIELDS) for org in settings.orgs}), fingerprints, {}, {}
    )

    def process() -> Processed:
        return asyncio.run(processor.process(change()))

    first = process()
    assert [w.record["Account_Name"] for w in first.writes] == ["Acme"]
    # Its write is not acknowledged by Kafka yet: nothing may be in the table.
    assert fingerprints == {}
    assert process().drops["duplicate"] == 1  # the same content again within the batch
    processor.discard_unconfirmed()  # the batch failed: its writes may not be in Kafka
    again = process()  # the replay, or the poller's re-hint of the same content
    assert [w.record["Account_Name"] for w in again.writes] == ["Acme"]
    assert fingerprints == {}

    assert again.fingerprints is not None
    processor.confirm({change().key: again.fingerprints})  # Kafka acknowledged the write
    assert set(fingerprints) == {change().key}
    duplicate = process()
    assert duplicate.writes == []
    assert duplicate.drops["duplicate"] == 1


def test_a_forced_change_is_written_again_but_never_over_a_newer_one() -> None:
    settings = load_settings(EXAMPLE, ENV)
    processor = Processor(
        settings, Metadata({org: FakeOrg(FIELDS) for org in settings.orgs}), {}, {}, {}
    )

    def process(record: Change) -> Processed:
        out = asyncio.run(processor.process(record))
        processor.confirm({record.key: out.fingerprints} if out.fingerprints else {})
        return out

    process(change())
    forced = change()
    forced.force = True
    assert process(change()).drops["duplicate"] == 1
    assert [w.record["Account_Name"] for w in process(forced).writes] == ["Acme"]
    newer = change()
    newer.modified_time = "2026-01-05T11:00:00+00:00"
    newer.record = {**newer.record, "Account_Name": "Acme Inc"}
    process(newer)
    assert process(forced).drops["stale"] == 1
