"""Parents before children, dead letters, a failing target, a killed worker."""

from __future__ import annotations

import time
import uuid
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.deployment import count, records
from orgsync_kernel.events import Change, HeldChange
from orgsync_kernel.topics import Topics
from tests.support.pipeline import by_field, client, read_dead_letters, send_hints, wait_until
from zoho_emulator import Emulator

ACCOUNTS = {"Accounts": {"match_field": "Origin_Record_Id"}}


def route(target: str = "tgt", **modules: Any) -> dict[str, Any]:
    return {"source": "src", "target": target, "modules": modules or dict(ACCOUNTS)}


async def insert(zoho: Any, module: str, rows: list[dict[str, Any]]) -> list[str]:
    return [str(o.id) for o in await zoho.insert(module, rows)]


async def test_a_contact_before_its_account_is_linked_to_the_synced_account(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker(
        [
            route(
                Accounts={"match_field": "Origin_Record_Id"},
                Contacts={"match_field": "Origin_Record_Id"},
            )
        ]
    )
    worker.start()
    src = await client(emu, "src", session)
    [account] = await insert(src, "Accounts", [{"Account_Name": "Parent", "Tier": "gold"}])
    [contact] = await insert(
        src, "Contacts", [{"Last_Name": "Child", "Account_Name": {"id": account}}]
    )
    # The Account's notification was lost: only the Contact's hint arrives.
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Contacts", [contact])

    async def linked() -> bool:
        return count(emu, "tgt", "Contacts") == 1

    await wait_until(linked, 60, "the contact in the target", worker)
    [target_account] = records(emu, "tgt", "Accounts")
    [target_contact] = records(emu, "tgt", "Contacts")
    assert target_account["Origin_Record_Id"] == account
    assert target_account["Account_Name"] == "Parent"
    assert target_contact["Origin_Record_Id"] == contact
    assert target_contact["Account_Name"]["id"] == target_account["id"]


async def test_children_whose_parent_never_comes_do_not_hold_up_the_others(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker(
        [
            route(
                Accounts={"match_field": "Origin_Record_Id"},
                Contacts={"match_field": "Origin_Record_Id"},
            )
        ]
    )
    worker.start()
    src = await client(emu, "src", session)
    [first] = await insert(src, "Accounts", [{"Account_Name": "First", "Tier": "gold"}])
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Accounts", [first])

    async def synced(module: str) -> bool:
        return count(emu, "tgt", module) == 1

    await wait_until(lambda: synced("Accounts"), 60, "the worker syncing", worker)
    # Orphans in (almost surely) every partition of `held`: their parents never reach the
    # target, and their wait (held_since in the future) outlasts this test by far.
    for _ in range(24):
        orphan = Change(
            org="src",
            module="Contacts",
            id=uuid.uuid4().hex,
            operation="insert",
            modified_time=None,
            record={},
            source="notification",
            received_at=time.time(),
        )
        held = HeldChange(
            change=orphan,
            held_since=time.time() + 120,
            parents=[f"src/Accounts/{uuid.uuid4().hex}"],
        )
        await kafka_producer.send_and_wait(
            Topics(unique_name).held, key=orphan.key.encode(), value=held.dumps()
        )
    [account] = await insert(src, "Accounts", [{"Account_Name": "Parent", "Tier": "gold"}])
    [contact] = await insert(
        src, "Contacts", [{"Last_Name": "Child", "Account_Name": {"id": account}}]
    )
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Contacts", [contact])

    # Long before the orphans give up: they must not block the partition meanwhile.
    await wait_until(lambda: synced("Contacts"), 45, "the contact queued behind orphans", worker)


async def test_a_record_missing_a_mandatory_field_is_dead_lettered_alone(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
    kafka_broker: str,
) -> None:
    worker = make_worker([route()])
    worker.start()
    src = await client(emu, "src", session)
    good = await insert(
        src, "Accounts", [{"Account_Name": f"Good {n}", "Tier": "gold"} for n in range(5)]
    )
    [bad] = await insert(src, "Accounts", [{"Account_Name": "No tier"}])
    await send_hints(
        kafka_producer, Topics(unique_name).hints, "src", "Accounts", [*good[:2], bad, *good[2:]]
    )

    async def good_ones() -> bool:
        return count(emu, "tgt", "Accounts") == 5

    await wait_until(good_ones, 60, "the five good accounts", worker)
    assert set(by_field(records(emu, "tgt", "Accounts"), "Origin_Record_Id")) == set(good)
    [letter] = await read_dead_letters(kafka_broker, Topics(unique_name).dlq, expect=1)
    assert (letter.stage, letter.code, letter.key) == (
        "write",
        "MANDATORY_NOT_FOUND",
        f"src/Accounts/{bad}",
    )
    assert letter.details.get("api_name") == "Tier"
    assert letter.record["record"]["Origin_Record_Id"] == bad


async def test_a_failing_target_does_not_hold_up_the_healthy_one(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker([route("tgt"), route("tgt2")], orgs=("src", "tgt", "tgt2"))
    emu.state.orgs["tgt2"].faults.merge({"error_rate": 1.0, "error_status": 500})
    worker.start()
    src = await client(emu, "src", session)
    ids = await insert(
        src, "Accounts", [{"Account_Name": f"Fan {n}", "Tier": "gold"} for n in range(30)]
    )
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Accounts", ids)

    async def healthy_synced() -> bool:
        return count(emu, "tgt", "Accounts") == 30

    await wait_until(healthy_synced, 60, "the healthy target", worker)
    assert count(emu, "tgt2", "Accounts") == 0
    emu.state.orgs["tgt2"].faults.clear()

    async def failing_caught_up() -> bool:
        return count(emu, "tgt2", "Accounts") >= 30

    took = await wait_until(failing_caught_up, 90, "the recovered target", worker)
    print(f"recovered target caught up {took:.1f}s after the fault cleared")
    rows = records(emu, "tgt2", "Accounts")
    assert sorted(r["Origin_Record_Id"] for r in rows) == sorted(ids)


async def test_a_killed_worker_restarted_leaves_every_record_once(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker(
        [route()], sink={"linger_ms": 100, "batch_size": 20, "backoff_initial_ms": 200}
    )
    src = await client(emu, "src", session)
    ids: list[str] = []
    for start in range(0, 400, 100):
        ids += await insert(
            src,
            "Accounts",
            [{"Account_Name": f"K {n}", "Tier": "gold"} for n in range(start, start + 100)],
        )
    emu.state.orgs["tgt"].faults.merge({"latency_ms": 1000})  # a round takes several calls
    worker.start()
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Accounts", ids)

    async def some_written() -> bool:
        return count(emu, "tgt", "Accounts") >= 60

    await wait_until(some_written, 60, "the first batches", worker)
    worker.kill()
    killed_at = count(emu, "tgt", "Accounts")
    assert killed_at < len(ids), "the worker finished before it was killed"
    emu.state.orgs["tgt"].faults.clear()
    worker.start()

    # The killed worker's requests still in flight may complete the target by themselves: wait
    # for the restarted one to be up too, or the teardown's SIGTERM lands before it handles one.
    async def all_written() -> bool:
        ready = worker.log(None).count("[^DrainingWorker]: Ready") == 2
        return ready and count(emu, "tgt", "Accounts") >= len(ids)

    await wait_until(all_written, 120, "every record after the restart", worker)
    rows = records(emu, "tgt", "Accounts")
    print(f"killed with {killed_at}/{len(ids)} written; after restart {len(rows)}")
    assert sorted(r["Origin_Record_Id"] for r in rows) == sorted(ids)
