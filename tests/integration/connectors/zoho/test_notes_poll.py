"""The poller sees notes, which change nothing of their parent record (not even Modified_Time)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from connectors.ingress.metrics import IngressMetrics
from connectors.ingress.poller import Poller
from orgsync_kernel.events import Hint
from orgsync_kernel.settings import PollerSettings
from tests.support.zoho_client import MakeClient, lead


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    leads = {"fields": [{"api_name": "Origin_Record_Id", "data_type": "text", "unique": True}]}
    return {"modules": {"Leads": leads, "Notes": {}}}


class Memory:
    """The poller's cursor store and producer, in memory."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sent: list[tuple[bytes, bytes]] = []

    def get(self, key: str) -> Any:
        return self.values.get(key)

    async def put(self, key: str, value: Any) -> None:
        self.values[key] = value

    async def send_many(self, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        self.sent += messages


async def test_a_note_added_to_a_synced_record_hints_its_parent(make_client: MakeClient) -> None:
    client = await make_client()
    leads = [str(o.id) for o in await client.insert("Leads", [lead(1), lead(2)], trigger=[])]
    memory = Memory()
    poller = Poller(
        PollerSettings(overlap_seconds=5),
        {"org": frozenset({"Leads"})},
        "hints",
        {"org": client},
        memory,  # type: ignore[arg-type]
        memory,  # type: ignore[arg-type]
        IngressMetrics.create(CollectorRegistry()),
        clock=lambda: 0.0,  # the first cursor: 1970, so the notes below are after it
        notes_parents={"org": frozenset({"Leads"})},
    )
    assert ("org", "Notes") in poller.pairs()
    await poller.start()
    await poller.stop()
    await client.add_notes("Leads", leads[1], [{"Note_Title": "Called"}])
    assert await poller.poll_once("org", "Notes") == 1
    [hint] = [Hint.loads(value) for _, value in memory.sent]
    assert (hint.module, hint.id, hint.source) == ("Leads", leads[1], "poll")
