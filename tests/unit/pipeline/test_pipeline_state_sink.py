from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.zoho import WriteOutcome
from pipeline.dedup import Edit
from pipeline.metrics import PipelineMetrics
from pipeline.models import Write, batch_writes
from pipeline.settings import ModuleRoute, Route, SinkSettings
from pipeline.sink import TargetSink, already_deleted, merge_rounds
from pipeline.state import changed_fields, is_stale, observe, written


def write(source_id: str, operation: str = "upsert", **record: object) -> Write:
    return Write(route="a->b", target_org="b", target_module="Leads", source_org="a",
                 source_module="Leads", source_id=source_id, operation=operation,
                 record=dict(record), match_field="Email", content_hash="h",
                 modified_time=None, target_id="9" if operation == "delete" else None)


def test_consecutive_upserts_of_a_record_merge_and_a_delete_comes_after() -> None:
    rounds = merge_rounds([write("1", First_Name="A"), write("2", Last_Name="X"),
                           write("1", Last_Name="B"), write("1", "delete")])
    assert [[(w.source_id, w.operation) for w in r] for r in rounds] == [
        [("1", "upsert"), ("2", "upsert")], [("1", "delete")]]
    assert rounds[0][0].record == {"First_Name": "A", "Last_Name": "B"}


def test_our_write_coming_back_is_not_a_genuine_edit() -> None:
    state = written(None, {"Lead_Status": "New", "Email": "a@b.c"}, "2024-01-01T10:00:00+00:00")
    _, edited = observe(state, {"Lead_Status": "New", "Email": "a@b.c"},
                        "2024-01-01T10:00:01+00:00")
    assert edited == []
    _, edited = observe(state, {"Lead_Status": "Won", "Email": "a@b.c"},
                        "2024-01-01T10:00:02+00:00")
    assert edited == ["Lead_Status"]


def test_only_fields_the_target_lacks_are_written_and_later_target_edits_win() -> None:
    target, _ = observe(None, {"Lead_Status": "Won", "Phone": "1", "Email": "a@b.c"},
                        "2024-01-01T10:00:05+00:00")
    data = {"Lead_Status": "New", "Phone": "1", "First_Name": "Z", "Email": "a@b.c"}
    older = Edit("a", "2024-01-01T10:00:01+00:00")
    assert changed_fields(data, "Email", target, older, "b") == {
        "First_Name": "Z", "Email": "a@b.c"}
    newer = Edit("a", "2024-01-01T10:00:09+00:00")
    assert changed_fields(data, "Email", target, newer, "b") == {
        "Lead_Status": "New", "First_Name": "Z", "Email": "a@b.c"}
    same = {"Lead_Status": "Won", "Phone": "1", "Email": "a@b.c"}
    assert changed_fields(same, "Email", target, newer, "b") is None


def test_a_copy_older_than_what_we_wrote_is_stale() -> None:
    state = written(None, {"A": 1}, "2024-01-01T10:00:05+00:00")
    assert is_stale(state, "2024-01-01T10:00:04+00:00")
    assert not is_stale(state, "2024-01-01T10:00:05+00:00")


GONE = WriteOutcome(False, "INVALID_DATA", "the id given seems to be invalid", details={"id": "9"})


@pytest.mark.parametrize(("operation", "outcome", "gone"), [
    ("delete", GONE, True),
    ("delete", WriteOutcome(False, "INVALID_DATA", "bad", details={"id": "8"}), False),
    ("delete", WriteOutcome(False, "NO_PERMISSION", "no", details={"id": "9"}), False),
    ("upsert", GONE, False),
])
def test_a_delete_of_a_record_the_target_no_longer_has_is_done(
        operation: str, outcome: WriteOutcome, gone: bool) -> None:
    assert already_deleted(write("1", operation), outcome) is gone


def test_writes_are_batched_per_target_and_partition_as_kafka_would_place_each_record() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    writes = [write(str(i % 40), Last_Name=str(i)).derive(target_org="bc"[i % 2])
              for i in range(200)]
    batches = batch_writes(writes, {"b": 4, "c": 3})
    kafka = DefaultPartitioner()
    for (org, partition), batch in batches.items():
        count = {"b": 4, "c": 3}[org]
        assert {kafka(w.key.encode(), list(range(count)), list(range(count)))
                for w in batch.writes} == {partition}
        assert {w.target_org for w in batch.writes} == {org}
    assert sorted(w.record["Last_Name"] for b in batches.values() for w in b.writes) == \
        sorted(str(i) for i in range(200))
    for batch in batches.values():  # a record's writes keep their order
        for key in {w.key for w in batch.writes}:
            seen = [int(w.record["Last_Name"]) for w in batch.writes if w.key == key]
            assert seen == sorted(seen)


class SlowTarget:
    def __init__(self) -> None:
        self.in_flight = self.most_in_flight = 0
        self.calls: list[list[str]] = []

    async def upsert(self, module: str, records: Any, duplicate_check_fields: Any = None,
                     trigger: Any = None) -> list[WriteOutcome]:
        self.calls.append([r["Email"] for r in records])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return [WriteOutcome(True, "SUCCESS", "", id=r["Email"], action="insert")
                for r in records]

    async def delete(self, module: str, ids: Any, *, wf_trigger: Any = None) -> Any:
        raise AssertionError("no deletes here")


async def test_a_round_goes_out_in_calls_of_at_most_the_batch_size_at_the_same_time() -> None:
    target = SlowTarget()
    route = Route(source="a", target="b", modules={"Leads": ModuleRoute(match_field="Email")})
    sink = TargetSink("b", target, {route.name: route}, SinkSettings(), {}, {},
                      PipelineMetrics.create(), routed_back=False)
    writes = [write(str(i), Email=f"{i}@x") for i in range(250)] + [write("7", Email="7@y")]
    assert await sink.apply(writes) == []
    assert [len(call) for call in target.calls] == [100, 100, 50]  # "7" merged, not resent
    assert target.most_in_flight == 3
    assert "7@y" in target.calls[0]
