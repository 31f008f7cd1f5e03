"""A same-field conflict on a two-way route, settled by each `conflict:` policy (issue 18)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bench.deployment import free_port, records
from orgsync_kernel.topics import Topics
from tests.support.pipeline import by_field, client, send_hints, wait_for_key, wait_until
from zoho_emulator import Emulator

EMAIL = "conflict@example.com"


def routes(policy: str) -> list[dict[str, Any]]:
    return [
        {
            "source": "src",
            "target": "tgt",
            "modules": {
                "Leads": {
                    "match_field": "Email",
                    "fields": ["Last_Name", "Email", "Lead_Status", "Description"],
                    "conflict": policy,
                }
            },
        },
        # The way back copies another field: the target's status edit is seen, not sent back.
        {
            "source": "tgt",
            "target": "src",
            "modules": {"Leads": {"match_field": "Email", "fields": ["Email", "Designation"]}},
        },
    ]


@pytest.mark.parametrize(
    ("policy", "kept", "winner"),
    [
        ("latest", "Contacted", "target"),
        ("source_wins", "Qualified", "source"),
        ("target_wins", "Contacted", "target"),
    ],
)
async def test_a_same_field_conflict_is_settled_by_the_policy_and_counted(
    emu: Emulator,
    make_worker: Any,
    kafka_producer: AIOKafkaProducer,
    kafka_broker: str,
    session: aiohttp.ClientSession,
    unique_name: str,
    policy: str,
    kept: str,
    winner: str,
) -> None:
    port = free_port()
    worker = make_worker(routes(policy), worker={"metrics_listen": f"127.0.0.1:{port}"})
    worker.start()
    src, tgt = await client(emu, "src", session), await client(emu, "tgt", session)
    hints = Topics(unique_name).hints
    [made] = await src.insert("Leads", [{"Last_Name": "C", "Email": EMAIL, "Lead_Status": "New"}])
    lead = str(made.id)
    await send_hints(kafka_producer, hints, "src", "Leads", [lead], "insert")

    def target() -> dict[str, Any]:
        return by_field(records(emu, "tgt", "Leads"), "Email").get(EMAIL, {})

    async def arrived() -> bool:
        return bool(target())

    await wait_until(arrived, 60, "the lead in the target", worker)
    target_id = str(target()["id"])
    # Both edit the status before either is synced: the source first, the target a second later.
    emu.state.advance(2)
    await src.update("Leads", [{"id": lead, "Lead_Status": "Qualified"}])
    emu.state.advance(2)
    await tgt.update("Leads", [{"id": target_id, "Lead_Status": "Contacted"}])
    await send_hints(kafka_producer, hints, "tgt", "Leads", [target_id])
    # Once the target's change is logged, it is processed before any change hinted after it.
    await wait_for_key(kafka_broker, Topics(unique_name).changes, f"tgt/Leads/{target_id}")
    await send_hints(kafka_producer, hints, "src", "Leads", [lead])

    def conflicts() -> list[str]:
        return [line for line in worker.log(None).splitlines() if "conflict route=src->tgt" in line]

    async def settled() -> bool:
        return bool(conflicts()) and target()["Lead_Status"] == kept

    await wait_until(settled, 60, f"the conflict settled with {kept}", worker)
    [line] = conflicts()
    assert "field=Lead_Status" in line and f"kept={winner}" in line
    assert "incoming='Qualified'" in line and "target='Contacted'" in line
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        metrics = await response.text()
    labels = f'module="Leads",route="src->tgt",winner="{winner}"'
    assert f'orgsync_conflicts_total{{field="Lead_Status",{labels}}} 1.0' in metrics
