"""The round loop's `process` on its own: the messages of one round in, and what it produced read
back from the broker, the emulated target org and the worker's state."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench.deployment import ORIGIN, records
from orgsync_kernel.events import Change, DeadLetter, Hint
from pipeline.worker.loop import Completing
from pipeline.worker.round import Round
from tests.support.agents import Stage
from tests.support.pipeline import client
from zoho_emulator import Emulator

MODIFIED = "2024-01-01T00:00:00+00:00"


def hint(record_id: str, operation: str = "update") -> Hint:
    return Hint(
        org="src",
        module="Accounts",
        id=record_id,
        operation=operation,
        source="notification",
        received_at=time.time(),
    )


def change(record_id: str, name: str, modified: str = MODIFIED) -> Change:
    return Change(
        org="src",
        module="Accounts",
        id=record_id,
        operation="update",
        source="notification",
        received_at=time.time(),
        modified_time=modified,
        record={"id": record_id, "Account_Name": name, "Modified_Time": modified},
    )


async def test_a_round_logs_the_hinted_records_current_state(stage: Stage, emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        src = await client(emu, "src", session)
        [created] = await src.insert("Accounts", [{"Account_Name": "Initech"}])
        await src.stop()
    existing, gone = str(created.id), "999000111"
    await stage.rounds.process([hint(existing), hint(gone)], [])
    values = await stage.read(stage.settings.topics.changes, 2)
    changes = {c.id: c for c in map(Change.loads, values)}
    assert set(changes) == {existing, gone}
    assert changes[existing].operation == "update"
    assert changes[existing].record["Account_Name"] == "Initech"
    assert changes[gone].operation == "delete"  # no such record in the org any more


async def test_a_read_that_keeps_failing_sends_the_hint_to_the_dlq(
    stage: Stage, emu: Emulator
) -> None:
    emu.state.orgs["src"].faults.merge({"error_rate": 1.0, "error_status": 500})
    await stage.rounds.process([hint("123")], [])
    values = await stage.read(stage.settings.topics.dlq, 1)
    [letter] = map(DeadLetter.loads, values)
    assert (letter.stage, letter.key, letter.attempts) == ("fetch", "src/Accounts/123", 3)


async def test_a_round_writes_the_target_and_then_stores_its_state(
    stage: Stage, emu: Emulator
) -> None:
    await stage.rounds.process([], [change("111", "Acme")])
    [row] = records(emu, "tgt", "Accounts")
    assert (row["Account_Name"], row[ORIGIN]) == ("Acme", "111")
    assert stage.store.links["tgt|src/Accounts/111"] == str(row["id"])
    assert stage.store.fingerprints["src/Accounts/111"]["src->tgt"]["modified_time"] == MODIFIED
    again = await stage.read(stage.settings.topics.fingerprints, 1)
    assert len(again) == 1  # in Kafka when the round returns
    await stage.rounds.process([], [change("111", "Acme")])  # the same change again: dropped
    assert len(records(emu, "tgt", "Accounts")) == 1


async def test_a_round_prepared_while_the_round_before_writes_waits_only_for_what_it_shares(
    stage: Stage, emu: Emulator
) -> None:
    steps = stage.rounds.steps
    first = Round()
    await steps.prepare(first, [], [change("111", "Acme")])
    gate = asyncio.Event()

    async def complete_when_let() -> None:
        await gate.wait()
        await steps.complete(first)

    earlier = Completing(first, asyncio.create_task(complete_when_let()))
    unrelated = Round()
    async with asyncio.timeout(5):  # it would wait for the gate for ever
        await steps.prepare(unrelated, [], [change("222", "Initech")], earlier.unless_concerned)
    later = change("111", "Acme Corp", modified="2024-01-02T00:00:00+00:00")
    same_record = Round()
    prepared = asyncio.create_task(
        steps.prepare(same_record, [], [later], earlier.unless_concerned)
    )
    finished, _ = await asyncio.wait([prepared], timeout=0.5)
    assert not finished  # waiting for the first round's write of record 111
    gate.set()
    await prepared
    [write] = same_record.writes["tgt"]
    assert write.target_id == stage.store.links["tgt|src/Accounts/111"]  # the link it waited for
    await steps.complete(same_record)
    names = sorted(r["Account_Name"] for r in records(emu, "tgt", "Accounts"))
    assert names == ["Acme Corp"]  # 222 was prepared, never completed


async def test_a_forced_change_repairs_a_target_record_edited_by_hand(
    stage: Stage, emu: Emulator
) -> None:
    await stage.rounds.process([], [change("111", "Acme")])
    [row] = records(emu, "tgt", "Accounts")
    async with aiohttp.ClientSession() as session:
        tgt = await client(emu, "tgt", session)
        await tgt.update("Accounts", [{"id": str(row["id"]), "Account_Name": "Acme (typo)"}])
        await tgt.stop()
    await stage.rounds.process([], [change("111", "Acme")])  # dedup: the target has it
    assert [r["Account_Name"] for r in records(emu, "tgt", "Accounts")] == ["Acme (typo)"]
    forced = change("111", "Acme")
    forced.force = True
    await stage.rounds.process([], [forced])
    [repaired] = records(emu, "tgt", "Accounts")
    assert (repaired["id"], repaired["Account_Name"]) == (row["id"], "Acme")  # no duplicate
