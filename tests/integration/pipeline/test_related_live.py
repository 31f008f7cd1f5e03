"""Related items live, and a quiet deployment costs almost nothing (issue 28 items 3 and 4).

The whole deployment runs (`orgsync run --role all`: ingress with its Notification API
channels and poller, and the worker) against the emulator, which calls the ingress back as
Zoho would. The test writes through a second Zoho app of the source org, so the emulator's
per-org credit counter minus the test's own calls is what orgsync spent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import (
    ORIGIN,
    ORIGIN_FIELD,
    Worker,
    channels_ready,
    emulator_client,
    free_port,
    org_config,
    records,
    worker_env,
    write_config,
)
from connectors.zoho import BackoffPolicy, ZohoClient
from orgsync_kernel.events import RELATED_SOURCE
from orgsync_kernel.topics import Topics
from tests.support.pipeline import calls, send_hints, wait_until
from zoho_emulator import Emulator

TEST_APP = "tester"
DEALS = {"match_field": ORIGIN, "notes": True, "attachments": True, "tags": True}
ROUTE: dict[str, Any] = {"source": "src", "target": "tgt", "modules": {"Deals": DEALS}}
WITHIN_S = 15.0  # the bound, with default settings (the poller's 60 s never helps)


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    modules = {"Deals": {"fields": [ORIGIN_FIELD]}, "Notes": {}}
    return {
        "src": org_config("src", "in", modules, apps=(TEST_APP,)),
        "tgt": org_config("tgt", "us", modules, apps=(TEST_APP,)),
    }


@pytest.fixture
async def deploy(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> AsyncIterator[Callable[..., Worker]]:
    """`deploy(**overrides)`: the whole deployment, its ingress reachable by the emulator."""
    started: list[Worker] = []

    def make(**overrides: Any) -> Worker:
        port = free_port()
        ingress = {
            "listen": f"127.0.0.1:{port}",
            "public_url": f"http://127.0.0.1:{port}",
            "webhook_secret": "${HOOK_SECRET}",
        }
        config = write_config(
            tmp_path / "orgsync.yaml",
            emu.url,
            kafka_broker,
            unique_name,
            ("src", "tgt"),
            [ROUTE],
            ingress=ingress,
            **overrides,
        )
        worker = Worker(config, worker_env(("src", "tgt")), tmp_path, role="all")
        worker.start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        if worker.alive():
            code = await worker.terminate()
            assert code == 0, f"exit code {code} on SIGTERM:\n{worker.log()}"


async def ready(emu: Emulator, worker: Worker) -> None:
    """Channels subscribed and the worker's agents running (the poller starts at "now")."""

    async def up() -> bool:
        return channels_ready(emu) and "Worker ready" in worker.log(None)

    await wait_until(up, 60, "the deployment ready", worker)


@pytest.fixture
async def tester(emu: Emulator) -> AsyncIterator[dict[str, ZohoClient]]:
    """The test's own Zoho app in each org (its calls are told apart from orgsync's)."""
    backoff = BackoffPolicy(max_attempts=3, base=0.01, cap=0.05)
    async with aiohttp.ClientSession() as session:
        yield {
            org: await emulator_client(emu, org, session, backoff, app=TEST_APP)
            for org in ("src", "tgt")
        }


def copy_of(emu: Emulator, deal: str) -> str | None:
    found = [r for r in records(emu, "tgt", "Deals") if r.get(ORIGIN) == deal]
    return str(found[0]["id"]) if found else None


async def synced_deal(emu: Emulator, src: ZohoClient, worker: Worker, name: str) -> tuple[str, str]:
    """A new deal in the source, once its copy is in the target (through its notification)."""
    deal = str((await src.insert("Deals", [{"Deal_Name": name, "Stage": "Qualification"}]))[0].id)

    async def copied() -> bool:
        return copy_of(emu, deal) is not None

    await wait_until(copied, WITHIN_S, f"deal {name} in the target", worker)
    return deal, str(copy_of(emu, deal))


def orgsync_credits(emu: Emulator, org: str) -> int:
    """Credits the org spent minus the calls of the test's app (1 credit each here)."""
    stats = emu.state.orgs[org].stats
    mine = sum(
        n for c, per in stats.calls.items() if c.endswith(TEST_APP.upper()) for n in per.values()
    )
    return int(stats.credits_used) - mine


async def test_a_note_an_attachment_and_a_tag_added_later_arrive_within_15_seconds(
    emu: Emulator,
    deploy: Callable[..., Worker],
    tester: dict[str, ZohoClient],
    tmp_path: Path,
) -> None:
    worker = deploy()
    await ready(emu, worker)
    src, tgt = tester["src"], tester["tgt"]
    deal, copy = await synced_deal(emu, src, worker, "Already synced")
    taken: dict[str, float] = {}

    start = time.monotonic()
    await src.add_notes("Deals", deal, [{"Note_Title": "Later", "Note_Content": "added"}])

    async def noted() -> bool:
        return [n.get("Note_Title") for n in await tgt.notes("Deals", copy)] == ["Later"]

    await wait_until(noted, WITHIN_S, "the note in the target", worker)
    taken["note"] = time.monotonic() - start

    (tmp_path / "po.pdf").write_bytes(b"%PDF-1.4 purchase order")
    start = time.monotonic()
    await src.upload_attachment("Deals", deal, "po.pdf", tmp_path / "po.pdf")

    async def attached() -> bool:
        return [a.get("File_Name") for a in await tgt.attachments("Deals", copy)] == ["po.pdf"]

    await wait_until(attached, WITHIN_S, "the attachment in the target", worker)
    taken["attachment"] = time.monotonic() - start

    start = time.monotonic()
    await src.add_tags("Deals", [deal], ["VIP"])

    async def tagged() -> bool:
        [record] = await tgt.get_by_ids("Deals", [copy], ["Tag"])
        return [t["name"] for t in record.get("Tag") or ()] == ["VIP"]

    await wait_until(tagged, WITHIN_S, "the tag in the target", worker)
    taken["tag"] = time.monotonic() - start
    print("related-item latency (s):", {k: round(v, 2) for k, v in taken.items()})


async def test_a_quiet_deployment_spends_one_credit_per_module_and_poll(
    emu: Emulator,
    deploy: Callable[..., Worker],
    tester: dict[str, ZohoClient],
) -> None:
    interval = 1.5
    worker = deploy(poller={"interval_seconds": interval})
    await ready(emu, worker)
    src = tester["src"]
    for n in range(5):
        deal, _ = await synced_deal(emu, src, worker, f"Quiet {n}")
        await src.add_notes("Deals", deal, [{"Note_Title": f"n{n}", "Note_Content": "x"}])

    def deal_lists() -> int:
        """Polls so far: only the poller lists the Notes module (it runs beside Deals')."""
        return int(
            emu.state.orgs["src"].stats.calls.get("1000.SRC", {}).get("GET /crm/v8/Notes", 0)
        )

    async def polled(times: int, after: int) -> Callable[[], Any]:
        async def check() -> bool:
            return deal_lists() >= after + times

        return check

    # Settled: the writes are synced, and listed twice (a change of the newest second listed
    # is hinted twice), then once more with nothing new.
    await wait_until(await polled(3, deal_lists()), 30, "three polls", worker)
    before = {org: orgsync_credits(emu, org) for org in ("src", "tgt")}

    polls_before, started = deal_lists(), time.monotonic()
    polls = 6
    await wait_until(await polled(polls, polls_before), polls * interval * 4, "polls", worker)
    seen = deal_lists() - polls_before
    spent = {org: orgsync_credits(emu, org) - before[org] for org in ("src", "tgt")}
    hours = (time.monotonic() - started) / 3600

    print(
        f"idle: {seen} polls, credits {spent}, {sum(spent.values()) / hours:.0f}/h at {interval}s"
    )
    # Deals and Notes listed once per interval each; nothing else (no delete: true here).
    assert spent["src"] <= 2 * (seen + 1)
    assert spent["tgt"] == 0


async def test_an_unchanged_record_notified_again_reads_no_related_items(
    emu: Emulator,
    deploy: Callable[..., Worker],
    tester: dict[str, ZohoClient],
    kafka_producer: AIOKafkaProducer,
    unique_name: str,
) -> None:
    worker = deploy()
    await ready(emu, worker)
    deal, copy = await synced_deal(emu, tester["src"], worker, "Notified twice")
    notes_reads = f"GET /crm/v8/Deals/{deal}/Notes"

    async def read_once() -> bool:
        return calls(emu, "src", notes_reads) >= 1

    await wait_until(read_once, WITHIN_S, "the first sync's read of the notes", worker)
    before = calls(emu, "src", notes_reads)
    target_before = calls(emu, "tgt", f"GET /crm/v8/Deals/{copy}/Notes")
    hints = Topics(unique_name).hints
    await send_hints(kafka_producer, hints, "src", "Deals", [deal])  # duplicates of the insert
    await send_hints(kafka_producer, hints, "src", "Deals", [deal])
    # Then a related action: its read comes after theirs (one partition, in order).
    await send_hints(kafka_producer, hints, "src", "Deals", [deal], source=RELATED_SOURCE)

    async def read_again() -> bool:
        return calls(emu, "src", notes_reads) > before

    await wait_until(read_again, WITHIN_S, "the related action's read", worker)
    assert calls(emu, "src", notes_reads) == before + 1
    assert calls(emu, "tgt", f"GET /crm/v8/Deals/{copy}/Notes") == target_before + 1


async def test_credits_per_change_with_notes_attachments_and_tags_on(
    emu: Emulator,
    deploy: Callable[..., Worker],
    tester: dict[str, ZohoClient],
) -> None:
    worker = deploy()
    await ready(emu, worker)
    src = tester["src"]
    deals = [{"Deal_Name": f"Busy {n}", "Stage": "Qualification"} for n in range(20)]
    ids = [str(o.id) for o in await src.insert("Deals", deals)]

    def arrived(amount: int) -> Callable[[], Any]:
        async def check() -> bool:
            copies = {r.get(ORIGIN): r for r in records(emu, "tgt", "Deals")}
            return all((copies.get(i) or {}).get("Amount") == amount for i in ids)

        return check

    await wait_until(arrived_all(emu, ids), 60, "the deals in the target", worker)
    before = {org: orgsync_credits(emu, org) for org in ("src", "tgt")}
    rounds = 10
    for amount in range(1, rounds + 1):
        await src.update("Deals", [{"id": i, "Amount": amount * 1000} for i in ids])
        await wait_until(arrived(amount * 1000), 60, f"edit {amount} in the target", worker)
    spent = sum(orgsync_credits(emu, org) - before[org] for org in ("src", "tgt"))
    changes = rounds * len(ids)
    print(f"changes: {changes}, credits {spent}, per 1,000 changes {1000 * spent / changes:.0f}")
    # A record read, a share of an upsert and the related items of both orgs (6 reads) per
    # change: the related reads dominate; nothing is read twice.
    assert spent <= 8 * changes


def arrived_all(emu: Emulator, ids: list[str]) -> Callable[[], Any]:
    async def check() -> bool:
        return {r.get(ORIGIN) for r in records(emu, "tgt", "Deals")} >= set(ids)

    return check
