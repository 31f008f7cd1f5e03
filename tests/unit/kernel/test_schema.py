"""Schema versions (orgsync_kernel/schema.py): the values recorded from the releases before
(tests/fixtures/schema_v1, version 1, and schema_v2, version 2) read as the current encoders
write them, and a value of a newer version fails clearly instead of being misread."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faust.models.base import registry as faust_registry

from connectors.kafka import apply_compacted
from connectors.kafka.compacted import CompactedTable, CompactedWriter
from orgsync_kernel import schema
from orgsync_kernel.events import Change, DeadLetter, HeldChange, Hint, RelatedWork, Write
from orgsync_kernel.schema import CURRENT, HEADERS, SchemaTooNew, load_compacted
from pipeline.sync.record_state import side
from pipeline.sync.versions import Side, Version
from pipeline.worker.round import Round, RoundSteps

FIXTURES = Path(__file__).parents[2] / "fixtures"
VERSIONS = (1, 2)  # recorded versions: fixtures/schema_v<N>
RECORDS = {
    "hints": Hint,
    "changes": Change,
    "writes": Write,
    "held": HeldChange,
    "related": RelatedWork,
    "dlq": DeadLetter,
}
# Fields records gained since the recorded versions, with the default an older value reads as.
ADDED: dict[str, dict[str, Any]] = {"writes": {"versions": None}, "related": {"asked": False}}
COMPACTED = ("fingerprints", "links", "states", "credits", "channels", "cursors", "dlq.state")


def recorded(kind: str, version: int = 1) -> list[tuple[bytes, bytes | None]]:
    rows = orjson.loads((FIXTURES / f"schema_v{version}" / f"{kind}.json").read_bytes())
    return [(r["key"].encode(), None if r["value"] is None else r["value"].encode()) for r in rows]


def without_schema(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_schema(v) for k, v in value.items() if k != "schema"}
    return value


def test_every_kind_is_recorded_and_has_a_step_per_version() -> None:
    for version in VERSIONS:
        found = (FIXTURES / f"schema_v{version}").glob("*.json")
        assert sorted(p.stem for p in found) == sorted([*RECORDS, *COMPACTED])
    assert set(COMPACTED) == set(schema.COMPACTED_KINDS)
    assert len(schema.STEPS) == CURRENT - 1
    kinds = {*schema.RECORD_KINDS, *schema.COMPACTED_KINDS}
    assert all(kinds <= step.keys() for step in schema.STEPS)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", RECORDS)
def test_a_recorded_record_reads_as_the_current_encoder_writes_it(kind: str, version: int) -> None:
    for _, value in recorded(kind, version):
        assert value is not None
        old = RECORDS[kind].loads(value)
        encoded = old.dumps()
        assert orjson.loads(encoded)["schema"] == CURRENT
        assert RECORDS[kind].loads(encoded) == old
        expected = {**without_schema(orjson.loads(value)), **ADDED.get(kind, {})}
        assert without_schema(orjson.loads(encoded)) == expected  # nothing else moved


def recorded_headers(version: int) -> list[tuple[str, bytes]]:
    return [] if version == 1 else [(schema.HEADER, str(version).encode())]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", [k for k in COMPACTED if k != "states"])
def test_a_recorded_compacted_value_reads_as_the_current_writer_writes_it(
    kind: str, version: int
) -> None:
    topic = f"orgsync.{kind}"
    for key, value in recorded(kind, version):
        view: dict[str, Any] = {"known": 1}
        apply_compacted(view, key, value, topic, recorded_headers(version))
        if value is None:
            assert key.decode() not in view  # a tombstone stays a tombstone
            continue
        current = load_compacted(topic, orjson.dumps(view[key.decode()]), HEADERS)
        assert view[key.decode()] == current == orjson.loads(value)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_recorded_record_state_gets_a_version_per_edited_field(version: int) -> None:
    """Version 3: the time of each field's last genuine edit becomes that field's version
    (its second, tick 0, the record's own org), read back by the two-way decisions."""
    [(key, value)] = recorded("states", version)
    assert value is not None
    view: dict[str, Any] = {}
    apply_compacted(view, key, value, "orgsync.states", recorded_headers(version))
    old, new = orjson.loads(value), view[key.decode()]
    at = int(datetime.fromisoformat(old["times"]["Tier"]).timestamp())
    assert new == {
        "values": old["values"],
        "versions": {"Account_Name": [at, 0], "Tier": [at, 0]},
        "edits": old["edits"],
        "modified": old["modified"],
    }
    assert side(new, "Tier", "src") == Side(Version(at, 0, "src"))


class _Batch:
    def __init__(self) -> None:
        self.kept: list[tuple[bytes, bytes | None, Any]] = []

    def append(self, *, key: bytes, value: bytes | None, timestamp: None, headers: Any) -> Any:
        self.kept.append((key, value, headers))
        return self


async def test_compacted_values_are_produced_with_the_version_header_tombstones_bare() -> None:
    batch, producer = _Batch(), MagicMock()
    producer.create_batch.return_value = batch
    done = asyncio.get_running_loop().create_future()
    done.set_result(SimpleNamespace(offset=10))  # the batch's first offset
    producer.send_batch.side_effect = lambda *args, **kwargs: asyncio.sleep(0, done)
    table = CompactedTable("orgsync.links", followed=False)
    table["a"], table["b"] = "123", "456"
    del table["b"]
    await CompactedWriter(producer).flush([table])
    assert batch.kept == [(b"a", b'"123"', HEADERS), (b"b", b'"456"', HEADERS), (b"b", None, [])]
    assert table.base == {"a": "123"} and table.offset == 12  # acknowledged, up to the last


def test_a_newer_record_fails_clearly() -> None:
    [(_, value), *_] = recorded("hints")
    assert value is not None
    newer = orjson.dumps({**orjson.loads(value), "schema": CURRENT + 1})
    with pytest.raises(SchemaTooNew, match=f"Hint value of schema version {CURRENT + 1}"):
        Hint.loads(newer)


def test_a_newer_compacted_value_is_skipped_and_the_key_keeps_what_was_known(
    caplog: pytest.LogCaptureFixture,
) -> None:
    newer = [(schema.HEADER, str(CURRENT + 1).encode())]
    with pytest.raises(SchemaTooNew, match="links value of schema version"):
        load_compacted("orgsync.links", b'{"new": "shape"}', newer)
    view = {"k": "123"}
    with caplog.at_level(logging.ERROR):
        apply_compacted(view, b"k", b'{"new": "shape"}', "orgsync.links", newer)
    assert view == {"k": "123"}
    assert "finish the rolling upgrade" in caplog.text


def test_the_round_loop_dead_letters_a_newer_hint_and_reads_the_others() -> None:
    [(key, value), *_] = recorded("hints")
    assert value is not None
    newer = orjson.dumps({**orjson.loads(value), "schema": CURRENT + 1})
    steps = RoundSteps.__new__(RoundSteps)
    steps.topics = MagicMock(hints="orgsync.hints")
    tp = TopicPartition("orgsync.hints", 0)
    messages = [
        ConsumerRecord("orgsync.hints", 0, n, 0, 0, key, v, None, 0, 0, [])
        for n, v in enumerate([value, newer])
    ]
    round_ = Round({tp: messages})
    hints, fetched, _ = steps.decode(round_)
    assert [h.id for h in hints] == [Hint.loads(value).id] and fetched == []
    [letter] = round_.dead
    assert (letter.stage, letter.code, letter.key) == ("decode", "SCHEMA_TOO_NEW", key.decode())
    assert letter.details["schema"] == CURRENT + 1
    assert orjson.loads(letter.details["value"]) == orjson.loads(newer)


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_wire_names_are_pinned_whatever_the_module_path(kind: str) -> None:
    """Every Faust record writes its namespace into each message (`__faust.ns`) and finds the
    class by it when decoding: the name is pinned on the class, so moving a module changes
    nothing on the wire, and the values recorded before decode into the same class."""
    cls = RECORDS[kind]
    assert cls._options.namespace == f"orgsync_kernel.events.{cls.__name__}"
    assert faust_registry[cls._options.namespace] is cls
    for _, value in recorded(kind):
        assert value is not None
        assert orjson.loads(value)["__faust"]["ns"] == cls._options.namespace
        decoded = cls.loads(value, serializer="json")
        assert type(decoded) is cls
        assert (
            orjson.loads(decoded.dumps(serializer="json"))["__faust"]["ns"]
            == cls._options.namespace
        )
