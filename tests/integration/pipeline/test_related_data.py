"""Notes, attachments and tags follow their record (issue 17)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import ORIGIN, ORIGIN_FIELD, org_config, records
from connectors.zoho import Download, ZohoClient
from orgsync_kernel.events import RELATED_SOURCE
from orgsync_kernel.topics import Topics
from tests.support.pipeline import calls, client, read_dead_letters, send_hints, wait_until
from zoho_emulator import Emulator

ROUTE: dict[str, Any] = {
    "source": "src",
    "target": "tgt",
    "modules": {
        "Deals": {
            "match_field": ORIGIN,
            "notes": True,
            "attachments": True,
            "tags": True,
            "delete": True,
        }
    },
}


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    modules = {"Deals": {"fields": [ORIGIN_FIELD]}, "Notes": {}}
    return {"src": org_config("src", "in", modules), "tgt": org_config("tgt", "us", modules)}


async def sha256_of(zoho: ZohoClient, record_id: str, attachment_id: str) -> str:
    async def digest(download: Download) -> str:
        sha = hashlib.sha256()
        async for chunk in download.chunks():
            sha.update(chunk)
        return sha.hexdigest()

    return await zoho.download_attachment("Deals", record_id, attachment_id, digest)


async def test_notes_an_attachment_and_tags_follow_the_deal_and_a_replay_copies_nothing_twice(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
    tmp_path: Any,
) -> None:
    worker = make_worker([ROUTE])
    worker.start()
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    hints = Topics(unique_name).hints
    deal = str((await src.insert("Deals", [{"Deal_Name": "Big", "Stage": "Qualification"}]))[0].id)
    notes = [
        {"Note_Title": "Kick-off", "Note_Content": "Asked for pricing"},
        {"Note_Title": "Terms"},
    ]
    first_note, _ = [str(o.id) for o in await src.add_notes("Deals", deal, notes)]
    content = os.urandom(200_000)
    (tmp_path / "po.pdf").write_bytes(content)
    await src.upload_attachment("Deals", deal, "po.pdf", tmp_path / "po.pdf")
    await src.add_tags("Deals", [deal], ["VIP", "Q4"])
    await send_hints(kafka_producer, hints, "src", "Deals", [deal], "insert")

    def target_deal() -> str | None:
        found = [r for r in records(emu, "tgt", "Deals") if r.get(ORIGIN) == deal]
        return str(found[0]["id"]) if found else None

    async def arrived() -> bool:
        target = target_deal()
        return bool(
            target
            and len(await tgt.notes("Deals", target)) == 2
            and await tgt.attachments("Deals", target)
        )

    await wait_until(arrived, 60, "the deal's notes and attachment in the target", worker)
    target = str(target_deal())
    copied = {n["Note_Title"]: n.get("Note_Content") for n in await tgt.notes("Deals", target)}
    assert copied == {"Kick-off": "Asked for pricing", "Terms": None}
    [attachment] = await tgt.attachments("Deals", target)
    assert attachment["File_Name"] == "po.pdf"
    assert (
        await sha256_of(tgt, target, str(attachment["id"])) == hashlib.sha256(content).hexdigest()
    )

    async def tagged() -> bool:
        [record] = await tgt.get_by_ids("Deals", [target], ["Tag"])
        return sorted(t["name"] for t in record.get("Tag") or ()) == ["Q4", "VIP"]

    await wait_until(tagged, 30, "the tags by name", worker)

    # A deleted note disappears; the same record seen again uploads nothing twice.
    await src.delete_notes("Deals", deal, [first_note])
    await send_hints(kafka_producer, hints, "src", "Deals", [deal], source=RELATED_SOURCE)
    await send_hints(kafka_producer, hints, "src", "Deals", [deal], source=RELATED_SOURCE)

    async def note_deleted() -> bool:
        return [n["Note_Title"] for n in await tgt.notes("Deals", target)] == ["Terms"]

    await wait_until(note_deleted, 30, "the deleted note gone from the target", worker)
    assert len(await tgt.attachments("Deals", target)) == 1
    assert calls(emu, "tgt", f"POST /crm/v8/Deals/{target}/Attachments") == 1


async def test_on_a_two_way_route_notes_written_by_orgsync_do_not_come_back(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    notes_only = {"match_field": ORIGIN, "notes": True}
    routes = [
        {"source": "src", "target": "tgt", "modules": {"Deals": notes_only}},
        {"source": "tgt", "target": "src", "modules": {"Deals": notes_only}},
    ]
    worker = make_worker(routes)
    worker.start()
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    hints = Topics(unique_name).hints
    deal = str((await src.insert("Deals", [{"Deal_Name": "Both", "Stage": "Qualification"}]))[0].id)
    await src.add_notes("Deals", deal, [{"Note_Title": "From src"}])
    await send_hints(kafka_producer, hints, "src", "Deals", [deal], "insert")

    async def copied() -> bool:
        found = [r for r in records(emu, "tgt", "Deals") if r.get(ORIGIN) == deal]
        return bool(found) and len(await tgt.notes("Deals", str(found[0]["id"]))) == 1

    await wait_until(copied, 60, "the note in the target", worker)
    [target_deal] = [r for r in records(emu, "tgt", "Deals") if r.get(ORIGIN) == deal]
    target = str(target_deal["id"])
    # The echo (the target record seen again) is worked off before a genuine note added after it.
    await send_hints(kafka_producer, hints, "tgt", "Deals", [target])
    await tgt.add_notes("Deals", target, [{"Note_Title": "From tgt"}])
    await send_hints(kafka_producer, hints, "tgt", "Deals", [target], source=RELATED_SOURCE)

    async def came_back() -> bool:
        return "From tgt" in [n["Note_Title"] for n in await src.notes("Deals", deal)]

    await wait_until(came_back, 60, "the target's own note in the source", worker)
    assert sorted(n["Note_Title"] for n in await src.notes("Deals", deal)) == [
        "From src",
        "From tgt",
    ]
    assert sorted(n["Note_Title"] for n in await tgt.notes("Deals", target)) == [
        "From src",
        "From tgt",
    ]


async def test_a_file_the_target_refuses_is_dead_lettered_by_name_and_the_others_still_arrive(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    kafka_broker: str,
    session: aiohttp.ClientSession,
    unique_name: str,
    tmp_path: Any,
) -> None:
    target_org = emu.state.orgs["tgt"]
    target_org.behaviour = replace(target_org.behaviour, attachment_max_bytes=50_000)
    worker = make_worker([ROUTE])
    worker.start()
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    deal = str(
        (await src.insert("Deals", [{"Deal_Name": "Files", "Stage": "Qualification"}]))[0].id
    )
    for name, size in (("big.bin", 60_000), ("small.bin", 1_000)):
        (tmp_path / name).write_bytes(os.urandom(size))
        await src.upload_attachment("Deals", deal, name, tmp_path / name)
    await send_hints(kafka_producer, Topics(unique_name).hints, "src", "Deals", [deal], "insert")

    [letter] = await read_dead_letters(kafka_broker, Topics(unique_name).dlq, expect=1, within=60)
    assert (letter.stage, letter.code) == ("related", "FILE_SIZE_MORE_THAN_ALLOWED_SIZE")
    assert (letter.details["kind"], letter.details["item"]["File_Name"]) == (
        "attachments",
        "big.bin",
    )
    [target] = [str(r["id"]) for r in records(emu, "tgt", "Deals") if r.get(ORIGIN) == deal]
    assert [a["File_Name"] for a in await tgt.attachments("Deals", target)] == ["small.bin"]
