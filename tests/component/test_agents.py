"""Each agent of pipeline/agents.py on its own, fed through Faust's `agent.test_context()`:
what it reads is put into the test agent's channel, what it produces is read back from the
broker, and a sink's writes from the emulated target org."""

from __future__ import annotations

import time

import aiohttp

from bench.deployment import ORIGIN, records, until
from orgsync_kernel.events import Change, DeadLetter, Hint, Write
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


def change(record_id: str, name: str) -> Change:
    return Change(
        org="src",
        module="Accounts",
        id=record_id,
        operation="update",
        source="notification",
        received_at=time.time(),
        modified_time=MODIFIED,
        record={"id": record_id, "Account_Name": name, "Modified_Time": MODIFIED},
    )


async def test_fetch_turns_hints_into_the_records_current_state(
    stage: Stage, emu: Emulator
) -> None:
    async with aiohttp.ClientSession() as session:
        src = await client(emu, "src", session)
        [created] = await src.insert("Accounts", [{"Account_Name": "Initech"}])
        await src.stop()
    existing, gone = str(created.id), "999000111"
    async with stage.agent("fetch_changed_records").test_context() as agent:
        for record_id in (existing, gone):
            await agent.put(hint(record_id), key=f"src/Accounts/{record_id}", wait=False)
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
    async with stage.agent("fetch_changed_records").test_context() as agent:
        await agent.put(hint("123"), key="src/Accounts/123", wait=False)
        values = await stage.read(stage.settings.topics.dlq, 1)
    [letter] = map(DeadLetter.loads, values)
    assert (letter.stage, letter.key, letter.attempts) == ("fetch", "src/Accounts/123", 3)


async def test_sync_maps_a_change_to_a_write_for_the_target(stage: Stage) -> None:
    async with stage.agent("sync_changes").test_context() as agent:
        await agent.put(change("111", "Acme"), key="src/Accounts/111", wait=False)
        values = await stage.read(stage.settings.topics.writes("tgt"), 1)
    [write] = map(Write.loads, values)
    assert (write.route, write.target_org, write.target_module) == ("src->tgt", "tgt", "Accounts")
    assert (write.source_id, write.operation, write.match_field) == ("111", "upsert", ORIGIN)
    assert write.record == {"Account_Name": "Acme", ORIGIN: "111"}


async def test_the_sink_upserts_writes_into_the_target_org(stage: Stage, emu: Emulator) -> None:
    write = Write(
        route="src->tgt",
        target_org="tgt",
        target_module="Accounts",
        source_org="src",
        source_module="Accounts",
        source_id="222",
        operation="upsert",
        record={"Account_Name": "Globex", ORIGIN: "222"},
        match_field=ORIGIN,
        content_hash="c0ffee",
        modified_time=MODIFIED,
    )
    async with stage.agent("apply_to_tgt").test_context() as agent:
        await agent.put(write, key="src/Accounts/222", wait=False)
        await until(lambda: bool(records(emu, "tgt", "Accounts")), 15, "the target record")
    [row] = records(emu, "tgt", "Accounts")
    assert (row["Account_Name"], row[ORIGIN]) == ("Globex", "222")
