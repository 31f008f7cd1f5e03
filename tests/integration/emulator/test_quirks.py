"""Issue 27 item 5: Zoho's production quirks as switchable faults (off by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.support.emulator import Client, admin, login, make_config
from zoho_emulator import Emulator

SCORE = {"api_name": "Score", "data_type": "formula"}


@pytest.fixture
async def crm(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    modules = {**make_config()["orgs"]["alpha"]["modules"], "Leads": {"fields": [SCORE]}}
    async with Emulator(make_config(alpha={"modules": modules})) as emu:
        yield await login(session, emu)


async def _raw(client: Client, method: str, path: str, **kw: Any) -> tuple[int, bytes]:
    headers = {"Authorization": f"Zoho-oauthtoken {client.token}"}
    async with client.session.request(method, client.emu.url + path, headers=headers, **kw) as r:
        return r.status, await r.read()


async def _faults(client: Client, **faults: Any) -> tuple[int, Any]:
    return await admin(
        client.session, client.emu, "POST", "/faults", json={"org": "alpha", **faults}
    )


async def test_the_next_single_record_gets_come_truncated_then_whole(crm: Client) -> None:
    (lead,) = await crm.insert("Leads", {"Last_Name": "Boyle"})
    assert (await _faults(crm, broken_bodies=1))[0] == 200
    status, raw = await _raw(crm, "GET", f"/crm/v8/Leads/{lead}")
    assert status == 200 and raw and raw.startswith(b'{"data"')
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    status, raw = await _raw(crm, "GET", f"/crm/v8/Leads/{lead}")
    assert orjson.loads(raw)["data"][0]["id"] == lead


async def test_notification_api_answers_can_come_empty(crm: Client) -> None:
    (lead,) = await crm.insert("Leads", {"Last_Name": "Boyle"})
    watch = {"channel_id": "7", "events": ["Leads.edit"], "notify_url": "http://127.0.0.1:9/n"}
    assert (await crm.call("POST", "/crm/v8/actions/watch", json={"watch": [watch]}))[0] == 201
    await _faults(crm, broken_bodies=2, broken_body="empty")
    assert (await _raw(crm, "GET", "/crm/v8/Leads?fields=Last_Name"))[1]  # a list: not affected
    assert await _raw(crm, "GET", "/crm/v8/actions/watch") == (200, b"")
    assert await _raw(crm, "GET", f"/crm/v8/Leads/{lead}") == (200, b"")
    status, body, _ = await crm.call("GET", f"/crm/v8/Leads/{lead}")
    assert status == 200 and body["data"][0]["id"] == lead


async def test_hidden_fields_are_unknown_to_search_and_coql(crm: Client) -> None:
    await crm.insert("Leads", {"Last_Name": "Boyle", "Company": "Zylker"})
    await _faults(crm, hidden_fields={"Leads": ["Company"]})
    status, body, _ = await crm.call(
        "GET", "/crm/v8/Leads/search", params={"criteria": "(Company:equals:Zylker)"}
    )
    assert (status, body["code"]) == (400, "INVALID_QUERY")
    query = {"select_query": "select Last_Name from Leads where Company = 'Zylker'"}
    status, body, _ = await crm.call("POST", "/crm/v8/coql", json=query)
    assert (status, body["code"], body["details"]) == (
        400,
        "INVALID_QUERY",
        {"column_name": "Company"},
    )
    query = {"select_query": "select Last_Name from Leads where Last_Name = 'Boyle'"}
    assert (await crm.call("POST", "/crm/v8/coql", json=query))[0] == 200
    await _faults(crm, clear=True)
    query = {"select_query": "select Company from Leads where Company = 'Zylker'"}
    assert (await crm.call("POST", "/crm/v8/coql", json=query))[0] == 200


async def test_a_formula_changes_without_modified_time(crm: Client) -> None:
    (lead,) = await crm.insert("Leads", {"Last_Name": "Boyle", "Score": 5})  # read-only: ignored
    _, before, _ = await crm.call("GET", f"/crm/v8/Leads/{lead}")
    assert before["data"][0]["Score"] is None
    crm.emu.state.advance(60)
    change = {"module": "Leads", "id": lead, "values": {"Score": 42}}
    status, _ = await admin(crm.session, crm.emu, "POST", "/orgs/alpha/formulas", json=change)
    assert status == 200
    _, after, _ = await crm.call("GET", f"/crm/v8/Leads/{lead}")
    assert after["data"][0]["Score"] == 42
    assert after["data"][0]["Modified_Time"] == before["data"][0]["Modified_Time"]
    assert [e["op"] for e in crm.emu.state.orgs["alpha"].write_log] == ["insert"]
    not_formula = {**change, "values": {"Last_Name": "X"}}
    status, _ = await admin(crm.session, crm.emu, "POST", "/orgs/alpha/formulas", json=not_formula)
    assert status == 400


@pytest.mark.parametrize(
    "faults",
    [{"broken_body": "garbled"}, {"hidden_fields": ["Company"]}, {"broken_bodies": "2"}],
)
async def test_bad_quirk_faults_are_refused(crm: Client, faults: dict[str, Any]) -> None:
    assert (await _faults(crm, **faults))[0] == 400
