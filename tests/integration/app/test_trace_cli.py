"""`orgsync trace`: a synced record names its target id, a dead-lettered one its DLQ entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.deployment import SECRET, records, worker_env, write_config
from orgsync_kernel.topics import Topics
from tests.support.cli import Result, orgsync
from tests.support.pipeline import by_field, client, send_hints, wait_until
from zoho_emulator import Emulator

ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
}


async def trace(config: Path, *args: str) -> Result:
    result = await orgsync("trace", "--config", str(config), *args, env=worker_env(("src", "tgt")))
    assert SECRET not in result.stdout + result.stderr
    return result


async def traced(config: Path, record_id: str, *args: str) -> Result:
    return await trace(config, "--org", "src", "--module", "Accounts", "--id", record_id, *args)


def stages(result: Result) -> list[str]:
    return [event["stage"] for event in result.json()["events"]]


async def test_trace_names_the_target_id_or_the_dlq_entry(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    worker = make_worker([ROUTE])
    worker.start()
    src = await client(emu, "src", session)
    rows = [{"Account_Name": "Synced", "Tier": "gold"}, {"Account_Name": "No tier"}]
    synced, dead = [str(o.id) for o in await src.insert("Accounts", rows)]
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Accounts", [synced, dead])
    config = worker.config
    last: dict[str, Result] = {}

    async def linked_and_dead_lettered() -> bool:
        last["synced"] = await traced(config, synced, "--format", "json")
        last["dead"] = await traced(config, dead, "--format", "json")
        # The fingerprint behind `dedup` sits in a table changelog that Faust may flush after
        # the link is written, so every expected stage is waited for, not only the link.
        return (
            last["synced"].code == 0
            and last["synced"].json()["targets"]["tgt"] is not None
            and {"change", "dedup", "written"} <= set(stages(last["synced"]))
            and "dead_letter" in stages(last["dead"])
        )

    await wait_until(linked_and_dead_lettered, 60, "a linked and a dead-lettered record", worker)
    target = by_field(records(emu, "tgt", "Accounts"), "Origin_Record_Id")
    good = last["synced"].json()
    assert good["record"] == f"src/Accounts/{synced}"
    assert good["targets"] == {"tgt": str(target[synced]["id"])}
    # Each stage is timed by its own message: the link can be stamped a millisecond before
    # the change it stands for (two producers), so only the hint is sure to come first.
    assert stages(last["synced"])[0] == "hint"
    assert "dead_letter" not in stages(last["synced"])
    written = [e for e in good["events"] if e["stage"] == "written"]
    assert [(e["target"], e["target_id"]) for e in written] == [("tgt", good["targets"]["tgt"])]
    assert all(e["at"].endswith("+00:00") for e in good["events"])

    bad = last["dead"].json()
    assert bad["targets"] == {"tgt": None} and dead not in target
    [letter] = [e for e in bad["events"] if e["stage"] == "dead_letter"]
    listed = await orgsync(
        "dlq", "list", "--config", str(config), "--format", "json", env=worker_env(("src", "tgt"))
    )
    [entry] = listed.json()
    assert (letter["id"], letter["code"], letter["failed_stage"], letter["state"]) == (
        entry["id"],
        "MANDATORY_NOT_FOUND",
        "write",
        "open",
    )
    assert entry["key"] == bad["record"]

    purged = await orgsync(
        "dlq", "purge", "--config", str(config), entry["id"], env=worker_env(("src", "tgt"))
    )
    assert purged.code == 0, purged.stderr
    after = await traced(config, dead, "--format", "json")
    assert [e["state"] for e in after.json()["events"] if e["stage"] == "dead_letter"] == ["purged"]

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    since_later = await traced(config, synced, "--format", "json", "--since", later)
    assert since_later.code == 0 and since_later.json()["events"] == []
    assert since_later.json()["targets"] == good["targets"]
    since_start = await traced(
        config, synced, "--format", "json", "--since", good["events"][0]["at"]
    )
    assert since_start.json()["events"] == good["events"]

    text = await traced(config, synced)
    assert text.code == 0 and f"tgt: {good['targets']['tgt']}" in text.stdout
    text = await traced(config, dead)
    assert text.code == 0 and "not synced to any target yet" in text.stdout
    assert f"id={letter['id']}" in text.stdout


async def test_unknown_records_exit_1_and_bad_arguments_exit_2(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, ("src", "tgt"), [ROUTE]
    )
    unknown = await traced(config, "404", "--format", "json")
    assert unknown.code == 1
    assert unknown.json() == {"record": "src/Accounts/404", "events": [], "targets": {"tgt": None}}
    no_org = await trace(config, "--org", "nope", "--module", "Accounts", "--id", "1")
    assert no_org.code == 2 and "unknown org 'nope'" in no_org.stderr
    no_module = await trace(config, "--org", "src", "--module", "Leads", "--id", "1")
    assert no_module.code == 2 and "no route syncs Leads from src" in no_module.stderr
    target_side = await trace(config, "--org", "tgt", "--module", "Accounts", "--id", "1")
    assert target_side.code == 2
    missing = await trace(config, "--org", "src", "--module", "Accounts")
    assert missing.code == 2 and "--id" in missing.stderr
    bad_since = await traced(config, "1", "--since", "last tuesday")
    assert bad_since.code == 2
    helped = await orgsync("trace", "--help", env=worker_env(()))
    assert helped.code == 0 and "--module" in helped.stdout
