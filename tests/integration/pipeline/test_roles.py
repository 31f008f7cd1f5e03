"""`orgsync run` roles and lifecycle: SIGTERM drains, two workers share, ingress + worker apart
or in one process (`--role all`), a delete of a record already gone."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import SECRET, Worker, count, free_port, records, worker_env, write_config
from orgsync_kernel.topics import Topics
from tests.support.pipeline import (
    by_field,
    calls,
    client,
    read_dead_letters,
    read_messages,
    send_hints,
    wait_until,
)
from zoho_emulator import Emulator

ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id", "delete": True}},
}
UPSERT = "POST /crm/v8/Accounts/upsert"


async def insert(zoho: Any, rows: list[dict[str, Any]]) -> list[str]:
    return [str(o.id) for o in await zoho.insert("Accounts", rows)]


def accounts(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"Account_Name": f"{prefix} {i}", "Tier": "gold"} for i in range(n)]


async def test_sigterm_finishes_the_upsert_in_flight_and_records_it(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker([ROUTE])
    worker.start()
    src = await client(emu, "src", session)
    hints = Topics(unique_name).hints
    [warm] = await insert(src, accounts("Warm", 1))  # the worker has its partitions
    await send_hints(kafka_producer, hints, "src", "Accounts", [warm])
    await wait_until(lambda: _true(count(emu, "tgt", "Accounts") == 1), 60, "warm-up", worker)

    emu.state.orgs["tgt"].faults.merge({"latency_ms": 2000})
    ids = await insert(src, accounts("Drain", 20))
    await send_hints(kafka_producer, hints, "src", "Accounts", ids)
    before = calls(emu, "tgt", UPSERT)
    await wait_until(
        lambda: _true(calls(emu, "tgt", UPSERT) > before), 30, "the upsert in flight", worker
    )
    assert count(emu, "tgt", "Accounts") == 1, "the batch was written before SIGTERM"
    stopped = time.monotonic()
    assert await worker.terminate() == 0, worker.log()
    took = time.monotonic() - stopped
    assert took < 30
    target = by_field(records(emu, "tgt", "Accounts"), "Origin_Record_Id")
    assert set(ids) <= set(target), "SIGTERM cut the upsert in flight short"
    written = calls(emu, "tgt", UPSERT)
    print(f"stopped {took:.1f}s after SIGTERM with the batch written")

    # Restarted: the drained batch was acknowledged, so it is not written again, and its id map
    # was recorded: an update of one of its records reaches the same target record.
    emu.state.orgs["tgt"].faults.clear()
    worker.start()
    await src.update("Accounts", [{"id": ids[0], "Account_Name": "Renamed"}])
    await send_hints(kafka_producer, hints, "src", "Accounts", [ids[0]])

    async def renamed() -> bool:
        row = by_field(records(emu, "tgt", "Accounts"), "Origin_Record_Id").get(ids[0])
        return row is not None and row["Account_Name"] == "Renamed"

    await wait_until(renamed, 60, "the update after the restart", worker)
    assert calls(emu, "tgt", UPSERT) == written + 1
    assert count(emu, "tgt", "Accounts") == 21


async def test_two_workers_share_the_partitions_and_write_each_record_once(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    first, second = make_worker([ROUTE]), make_worker([ROUTE], log_name="worker2.log")
    first.start()
    second.start()
    src = await client(emu, "src", session)
    ids = await insert(src, accounts("Shared", 100)) + await insert(src, accounts("More", 100))
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Accounts", ids)

    async def synced() -> bool:
        return count(emu, "tgt", "Accounts") >= len(ids)

    await wait_until(synced, 90, "every record through two workers", first)
    rows = records(emu, "tgt", "Accounts")
    assert sorted(r["Origin_Record_Id"] for r in rows) == sorted(ids)
    names = Topics(unique_name)
    topics = [names.hints, names.fetched, names.writes("tgt")]

    def shares() -> list[dict[str, set[int]]]:
        return [{topic: assigned(w, topic) for topic in topics} for w in (first, second)]

    async def split() -> bool:  # each topic's partitions divided between the two, none twice
        a, b = shares()
        return (
            all(a[t].isdisjoint(b[t]) and a[t] | b[t] == {0, 1, 2, 3} for t in topics)
            and any(a.values())
            and any(b.values())
        )

    await wait_until(split, 30, "the partitions split between the two workers")
    print("assignments:", shares())


FAMILY = {
    "source": "src",
    "target": "tgt",
    "modules": {
        "Accounts": {"match_field": "Origin_Record_Id"},
        "Contacts": {"match_field": "Origin_Record_Id"},
    },
}


async def test_two_workers_resolve_parents_held_by_the_other_and_split_the_links(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    kafka_broker: str,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    """Each worker keeps the links of its own partitions only (record-links); a contact whose
    account is on the other worker's partition still gets its account in the target: the
    other worker publishes the account's link when the child asks for it."""
    first, second = make_worker([FAMILY]), make_worker([FAMILY], log_name="worker2.log")
    first.start()
    second.start()
    src = await client(emu, "src", session)
    names = Topics(unique_name)
    accounts_ids = await insert(src, accounts("Parent", 8))
    await send_hints(kafka_producer, names.hints, "src", "Accounts", accounts_ids)
    await wait_until(lambda: _true(count(emu, "tgt", "Accounts") == 8), 90, "the accounts", first)
    contacts = [
        {"Last_Name": f"Child {n}", "Account_Name": {"id": accounts_ids[n % 8]}} for n in range(40)
    ]
    contact_ids = [str(o.id) for o in await src.insert("Contacts", contacts)]
    await send_hints(kafka_producer, names.hints, "src", "Contacts", contact_ids)
    await wait_until(lambda: _true(count(emu, "tgt", "Contacts") == 40), 90, "the contacts", first)
    target_accounts = {r["id"]: r["Origin_Record_Id"] for r in records(emu, "tgt", "Accounts")}
    for row in records(emu, "tgt", "Contacts"):
        n = int(row["Last_Name"].split()[1])
        parent = (row.get("Account_Name") or {}).get("id")
        assert target_accounts.get(parent) == accounts_ids[n % 8], row
    a, b = assigned(first, names.hints), assigned(second, names.hints)
    assert a and b and a.isdisjoint(b), (a, b)
    # every link in the partition of its record; the shared table holds only accounts asked for
    partitioned = await read_messages(kafka_broker, names.record_links, lambda m: len(m) >= 48)
    assert len({m.key for m in partitioned}) == 48
    shared = await read_messages(
        kafka_broker, names.links, lambda m: any(b"/Accounts/" in x.key for x in m)
    )
    assert not [m.key for m in shared if b"/Contacts/" in m.key]


def assigned(worker: Worker, topic: str) -> set[int]:
    """The partitions of `topic` the worker holds after its last rebalance (from its log)."""
    found: set[int] = set()
    pattern = re.compile(rf"partitions assigned.* topic={re.escape(topic)} partitions=([\d,-]+)")
    for match in pattern.finditer(worker.log(chars=None)):
        found = {int(p) for p in match.group(1).split(",") if p != "-"}
    return found


@pytest.mark.parametrize("roles", [("ingress", "worker"), ("all",)], ids=["apart", "all"])
async def test_a_webhook_syncs_through_ingress_and_worker_roles(
    emu: Emulator,
    session: aiohttp.ClientSession,
    unique_name: str,
    kafka_broker: str,
    tmp_path: Path,
    roles: tuple[str, ...],
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "orgsync.yaml",
        emu.url,
        kafka_broker,
        unique_name,
        ("src", "tgt"),
        [ROUTE],
        ingress={"listen": f"127.0.0.1:{port}", "webhook_secret": "${HOOK_SECRET}"},
    )
    env = worker_env(("src", "tgt"))
    processes = [Worker(config, env, tmp_path, role=role, log_name=f"{role}.log") for role in roles]
    for process in processes:
        process.start()
    try:
        src = await client(emu, "src", session)
        [account] = await insert(src, accounts("Hooked", 1))
        url = f"http://127.0.0.1:{port}/hooks/zoho/src"
        body = {"module": "Accounts", "ids": account, "operation": "insert"}

        async def accepted() -> bool:
            try:
                async with session.post(
                    url, json=body, headers={"X-Orgsync-Secret": SECRET}
                ) as response:
                    return response.status < 300
            except aiohttp.ClientConnectionError:
                return False  # the ingress is still starting

        await wait_until(accepted, 30, "the ingress to accept the webhook", processes[0])
        await wait_until(
            lambda: _true(count(emu, "tgt", "Accounts") == 1),
            60,
            "the webhook's record in the target",
            processes[-1],
        )
        [row] = records(emu, "tgt", "Accounts")
        assert (row["Origin_Record_Id"], row["Account_Name"]) == (account, "Hooked 0")
    finally:
        codes = [await process.terminate() for process in processes]
    assert codes == [0] * len(roles), "".join(p.log() for p in processes)


async def test_deleting_a_record_the_target_no_longer_has_is_done_not_dead(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
    kafka_broker: str,
) -> None:
    worker = make_worker([ROUTE])
    worker.start()
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    hints = Topics(unique_name).hints
    ids = await insert(src, accounts("Gone", 2))
    await send_hints(kafka_producer, hints, "src", "Accounts", ids)
    await wait_until(lambda: _true(count(emu, "tgt", "Accounts") == 2), 60, "two records", worker)
    target = by_field(records(emu, "tgt", "Accounts"), "Origin_Record_Id")
    await tgt.delete("Accounts", [str(target[ids[0]]["id"])])  # someone deleted it there first
    await src.delete("Accounts", ids)
    deletes_before = calls(emu, "tgt", "DELETE /crm/v8/Accounts")
    await send_hints(kafka_producer, hints, "src", "Accounts", ids, "delete")
    await wait_until(lambda: _true(count(emu, "tgt", "Accounts") == 0), 60, "the deletes", worker)
    assert calls(emu, "tgt", "DELETE /crm/v8/Accounts") > deletes_before
    assert (
        await read_dead_letters(kafka_broker, Topics(unique_name).dlq, expect=1, within=3.0) == []
    )


async def _true(value: bool) -> bool:
    return value
