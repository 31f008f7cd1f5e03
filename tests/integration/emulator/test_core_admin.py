"""/__emulator/ admin API: stats, write log, faults, reset; and the write-event hook."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.support.emulator import Client, admin, login
from zoho_emulator import Emulator, WriteEvent
from zoho_emulator.render import Renderer
from zoho_emulator.store import StoredRecord


async def test_stats_shape(emu: Emulator, session: aiohttp.ClientSession, alpha: Client) -> None:
    await alpha.insert("Leads", {"Last_Name": "A"})
    await alpha.call("GET", "/crm/v8/Leads", params={"fields": "Last_Name"})
    status, body = await admin(session, emu, "GET", "/stats")
    assert status == 200 and set(body["orgs"]) == {"alpha", "beta"}
    stats = body["orgs"]["alpha"]
    assert stats["calls"] == {"1000.ALPHACLIENT": {"POST /crm/v8/Leads": 1, "GET /crm/v8/Leads": 1}}
    assert stats["token_refreshes"] == {"1000.ALPHACLIENT": 1}
    assert stats["credits_used"] == 2 and stats["max_concurrency"] == 1
    assert stats["throttled"] == 0
    assert stats["notifications"] == {"sent": 0, "failed": 0, "dropped": 0}


async def test_write_log_since_ms(
    emu: Emulator, session: aiohttp.ClientSession, alpha: Client
) -> None:
    a, b = await alpha.insert("Leads", {"Last_Name": "A"}, {"Last_Name": "B"})
    await alpha.call("PUT", "/crm/v8/Leads", json={"data": [{"id": a, "Company": "Z"}]})
    await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": b})
    status, log = await admin(session, emu, "GET", "/orgs/alpha/log")
    assert status == 200
    assert [(e["id"], e["op"]) for e in log] == [
        (a, "insert"),
        (b, "insert"),
        (a, "update"),
        (b, "delete"),
    ]
    assert all(e["module"] == "Leads" and e["client_id"] == "1000.ALPHACLIENT" for e in log)
    emu.state.advance(5)
    await alpha.call("PUT", "/crm/v8/Leads", json={"data": [{"id": a, "Company": "Y"}]})
    _, later = await admin(
        session, emu, "GET", "/orgs/alpha/log", params={"since_ms": str(log[-1]["at_ms"] + 1)}
    )
    assert [(e["id"], e["op"]) for e in later] == [(a, "update")]
    assert (await admin(session, emu, "GET", "/orgs/nope/log"))[0] == 404


async def test_records_dump_every_record_unmetered(
    emu: Emulator, session: aiohttp.ClientSession, alpha: Client
) -> None:
    a, b, c = await alpha.insert("Leads", *({"Last_Name": n} for n in "ABC"))
    await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": b})
    _, before = await admin(session, emu, "GET", "/stats")
    status, rows = await admin(
        session, emu, "GET", "/orgs/alpha/records/Leads", params={"fields": "Last_Name,Email"}
    )
    assert status == 200
    assert sorted(rows, key=lambda r: r["Last_Name"]) == [
        {"id": a, "Last_Name": "A", "Email": None},
        {"id": c, "Last_Name": "C", "Email": None},
    ]
    _, after = await admin(session, emu, "GET", "/stats")
    assert after["orgs"]["alpha"]["credits_used"] == before["orgs"]["alpha"]["credits_used"]
    assert (await admin(session, emu, "GET", "/orgs/alpha/records/Nope"))[0] == 404
    assert (await admin(session, emu, "GET", "/orgs/nope/records/Leads"))[0] == 404


async def test_error_and_throttle_faults_then_clear(
    emu: Emulator, session: aiohttp.ClientSession, alpha: Client
) -> None:
    status, body = await admin(
        session,
        emu,
        "POST",
        "/faults",
        json={"org": "alpha", "error_rate": 1.0, "error_status": 503},
    )
    assert status == 200 and body["faults"]["error_rate"] == 1.0
    status, body, _ = await alpha.call("GET", "/crm/v8/org")
    assert status == 503 and body["code"] == "INTERNAL_ERROR"
    await admin(
        session,
        emu,
        "POST",
        "/faults",
        json={"org": "alpha", "error_rate": 0, "throttle_rate": 1.0},
    )
    status, body, _ = await alpha.call("GET", "/crm/v8/org")
    assert (status, body["code"]) == (429, "TOO_MANY_REQUESTS")
    await admin(session, emu, "POST", "/faults", json={"org": "alpha", "clear": True})
    assert (await alpha.call("GET", "/crm/v8/org"))[0] == 200
    assert emu.state.orgs["alpha"].faults.throttle_rate == 0
    _, stats = await admin(session, emu, "GET", "/stats")
    assert stats["orgs"]["alpha"]["throttled"] == 1


async def test_notification_faults_are_stored_for_the_notifier(
    emu: Emulator, session: aiohttp.ClientSession
) -> None:
    await admin(
        session,
        emu,
        "POST",
        "/faults",
        json={
            "org": "alpha",
            "drop_notifications": 0.3,
            "duplicate_notifications": 0.1,
            "delay_notifications_ms": 50,
        },
    )
    faults = emu.state.orgs["alpha"].faults
    assert (
        faults.drop_notifications,
        faults.duplicate_notifications,
        faults.delay_notifications_ms,
    ) == (0.3, 0.1, 50)
    status, body = await admin(session, emu, "POST", "/faults", json={"org": "alpha", "bogus": 1})
    assert status == 400
    assert (await admin(session, emu, "POST", "/faults", json={"org": "nope"}))[0] == 404


async def test_revoke_tokens_fault(
    emu: Emulator, session: aiohttp.ClientSession, alpha: Client
) -> None:
    await admin(session, emu, "POST", "/faults", json={"org": "alpha", "revoke_tokens": True})
    status, body, _ = await alpha.call("GET", "/crm/v8/org")
    assert (status, body["code"]) == (401, "INVALID_TOKEN")
    fresh = await login(session, emu)
    assert (await fresh.call("GET", "/crm/v8/org"))[0] == 200


async def test_latency_fault_delays_calls(
    emu: Emulator, session: aiohttp.ClientSession, alpha: Client
) -> None:
    loop_time = asyncio.get_running_loop().time
    await admin(session, emu, "POST", "/faults", json={"org": "alpha", "latency_ms": 200})
    start = loop_time()
    await alpha.call("GET", "/crm/v8/org")
    assert loop_time() - start >= 0.2


async def test_reset_empties_records_and_counters(
    emu: Emulator, session: aiohttp.ClientSession, alpha: Client
) -> None:
    (lead,) = await alpha.insert("Leads", {"Last_Name": "A"})
    status, _ = await admin(session, emu, "POST", "/reset")
    assert status == 200
    assert (await alpha.call("GET", f"/crm/v8/Leads/{lead}"))[0] == 204
    _, stats = await admin(session, emu, "GET", "/stats")
    assert stats["orgs"]["alpha"]["calls"] == {"1000.ALPHACLIENT": {f"GET /crm/v8/Leads/{lead}": 1}}
    assert (await admin(session, emu, "GET", "/orgs/alpha/log"))[1] == []


async def test_write_events_one_per_call_and_operation(emu: Emulator, alpha: Client) -> None:
    events: list[WriteEvent] = []
    emu.state.orgs["alpha"].add_write_listener(events.append)
    (a,) = await alpha.insert("Leads", {"Last_Name": "A", "Email": "a@z.com"})
    await alpha.call(
        "POST",
        "/crm/v8/Leads/upsert",
        json={
            "data": [
                {"Last_Name": "A2", "Email": "a@z.com"},
                {"Last_Name": "B", "Email": "b@z.com"},
            ],
            "trigger": [],
        },
    )
    await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": a, "wf_trigger": "false"})
    assert [(e.operation, e.trigger) for e in events] == [
        ("insert", None),
        ("insert", ()),
        ("update", ()),
        ("delete", ()),
    ]
    insert, upsert_insert, update, delete = events
    assert insert.ids == (a,) and insert.org == "alpha" and insert.module == "Leads"
    assert insert.client_id == "1000.ALPHACLIENT" and insert.records[0]["Last_Name"] == "A"
    assert update.ids == (a,) and update.records[0]["Last_Name"] == "A2"
    assert upsert_insert.records[0]["Email"] == "b@z.com"
    assert delete.ids == (a,) and delete.records[0]["Last_Name"] == "A2"
    assert update.at_ms >= insert.at_ms


async def test_write_event_records_render_on_first_access_as_of_the_write(
    emu: Emulator, alpha: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    full = Renderer.full

    def counting_full(self: Renderer, rec: StoredRecord) -> dict[str, Any]:
        rendered.append(rec.id)
        return full(self, rec)

    monkeypatch.setattr(Renderer, "full", counting_full)
    events: list[WriteEvent] = []
    emu.state.orgs["alpha"].add_write_listener(events.append)
    (a,) = await alpha.insert("Leads", {"Last_Name": "A", "Email": "a@z.com"})
    status, _, _ = await alpha.call(
        "PUT", f"/crm/v8/Leads/{a}", json={"data": [{"Last_Name": "A2"}]}
    )
    assert status == 200 and rendered == []  # nobody looked at records yet
    insert, update = events
    assert insert.values[0]["Last_Name"] == "A" and update.values[0]["Last_Name"] == "A2"
    (record,) = insert.records  # rendered now, yet as it was right after the insert
    assert record["Last_Name"] == "A" and record["Email"] == "a@z.com" and record["id"] == a
    assert record["Owner"]["email"] == "admin@alpha.example"
    assert insert.records is insert.records and rendered == [a]
    assert update.records[0]["Last_Name"] == "A2" and rendered == [a, a]
