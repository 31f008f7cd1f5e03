"""The cold-path agents of pipeline/worker/agents.py on their own, fed through Faust's
`agent.test_context()`: what they read is put into the test agent's channel, what they produce
is read back from the broker or from the emulated target org."""

from __future__ import annotations

import time

from bench.deployment import ORIGIN, records, until
from orgsync_kernel.events import Change, HeldChange, Write
from tests.support.agents import Stage
from zoho_emulator import Emulator

MODIFIED = "2024-01-01T00:00:00+00:00"


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


async def test_a_held_child_goes_back_to_the_round_loop_once_its_parent_is_linked(
    stage: Stage,
) -> None:
    child = Change(
        org="src",
        module="Contacts",
        id="7",
        operation="update",
        source="notification",
        received_at=time.time(),
        modified_time=MODIFIED,
        record={"id": "7", "Last_Name": "Lee"},
    )
    parent = "tgt|src/Accounts/5"
    held = HeldChange(change=child, held_since=time.time(), parents=[parent])
    stage.store.links[parent] = "9000"
    async with stage.agent("release_held_changes").test_context() as agent:
        await agent.put(held, key=child.key, wait=False)
        values = await stage.read(stage.settings.topics.fetched, 1)
    assert [Change.loads(v).id for v in values] == ["7"]
