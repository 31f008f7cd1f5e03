"""Notes API (reference §13): notes per parent and across the module, documented shapes and
errors, and a note of a watched record as a related-action callback (§20)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.emulator import Client, login, make_config, post_receiver
from zoho_emulator import Emulator


@pytest.fixture
async def org(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    async with Emulator(make_config(alpha={"modules": {"Notes": {}}})) as emu:
        yield await login(session, emu, "alpha")


async def _lead(client: Client, name: str = "Doe") -> str:
    (rid,) = await client.insert("Leads", {"Last_Name": name})
    return rid


async def test_notes_of_a_parent_create_list_update_delete(org: Client) -> None:
    lead, other = await _lead(org), await _lead(org, "Roe")
    base = f"/crm/v8/Leads/{lead}/Notes"
    status, body, _ = await org.call(
        "POST", base, json={"data": [{"Note_Title": "Call", "Note_Content": "pricing"}]}
    )
    assert status == 201, body
    entry = body["data"][0]
    assert (entry["code"], entry["message"]) == ("SUCCESS", "record added")
    note = entry["details"]["id"]
    assert set(entry["details"]) >= {"id", "Created_Time", "Modified_Time", "Created_By"}
    await org.insert(
        "Notes",
        {
            "Note_Title": "x",
            "Note_Content": "y",
            "Parent_Id": {"module": {"api_name": "Leads"}, "id": other},
        },
    )

    status, body, _ = await org.call("GET", base, params={"fields": "Note_Title,Parent_Id"})
    assert status == 200
    assert [n["id"] for n in body["data"]] == [note]
    assert body["data"][0]["Parent_Id"]["id"] == lead
    assert body["data"][0]["Parent_Id"]["module"]["api_name"] == "Leads"
    assert body["info"]["count"] == 1

    status, body, _ = await org.call(
        "PUT", f"{base}/{note}", json={"data": [{"Note_Content": "new"}]}
    )
    assert (status, body["data"][0]["message"]) == (200, "record updated")
    status, body, _ = await org.call("GET", f"{base}/{note}")
    assert body["data"][0]["Note_Content"] == "new"

    status, body, _ = await org.call("DELETE", f"{base}/{note}")
    assert (status, body["data"][0]["message"]) == (200, "record deleted")
    status, _, _ = await org.call("GET", base, params={"fields": "Note_Title"})
    assert status == 204


async def test_notes_across_the_module(org: Client) -> None:
    lead = await _lead(org)
    parent = {"module": {"api_name": "Leads"}, "id": lead}
    a, b = await org.insert(
        "Notes",
        {"Note_Title": "a", "Note_Content": "a", "Parent_Id": parent},
        {"Note_Content": "b", "Parent_Id": parent},
    )
    status, body, _ = await org.call("GET", "/crm/v8/Notes", params={"fields": "Note_Title"})
    assert status == 200 and {n["id"] for n in body["data"]} == {a, b}
    status, body, _ = await org.call(
        "PUT", "/crm/v8/Notes", json={"data": [{"id": a, "Note_Title": "A"}]}
    )
    assert status == 200, body
    status, body, _ = await org.call("DELETE", "/crm/v8/Notes", params={"ids": f"{a},{b}"})
    assert status == 200 and [e["message"] for e in body["data"]] == ["record deleted"] * 2


async def test_note_errors(org: Client) -> None:
    lead = await _lead(org)
    status, body, _ = await org.call("POST", f"/crm/v8/Leads/{lead}/Notes", json={"data": [{}]})
    assert (status, body["data"][0]["code"]) == (400, "EXPECTED_FIELD_MISSING")
    status, body, _ = await org.call(
        "POST", "/crm/v8/Leads/999999/Notes", json={"data": [{"Note_Title": "x"}]}
    )
    assert (status, body["code"]) == (400, "INVALID_DATA")
    assert body["details"] == {"resource_path_index": 1}
    status, body, _ = await org.call(
        "POST", f"/crm/v8/Leads/{lead}/Notes", json={"data": [{"Note_Title": "x"}] * 101}
    )
    assert (status, body["code"]) == (400, "LIMIT_EXCEEDED")


async def test_parent_modified_time_unchanged_by_default(org: Client) -> None:
    lead = await _lead(org)
    _, before, _ = await org.call("GET", f"/crm/v8/Leads/{lead}")
    org.emu.state.advance(5)
    await org.call("POST", f"/crm/v8/Leads/{lead}/Notes", json={"data": [{"Note_Title": "x"}]})
    _, after, _ = await org.call("GET", f"/crm/v8/Leads/{lead}")
    assert after["data"][0]["Modified_Time"] == before["data"][0]["Modified_Time"]


async def test_note_on_a_watched_record_is_a_related_update(
    session: aiohttp.ClientSession,
) -> None:
    bodies: asyncio.Queue[Any] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        await bodies.put(orjson.loads(await request.read()))
        return web.Response()

    config = make_config(
        alpha={"modules": {"Notes": {}}},
        behaviour={"related_action_bumps_parent_modified_time": True},
    )
    async with post_receiver(handle) as url, Emulator(config) as emu:
        client = await login(session, emu, "alpha")
        lead = await _lead(client)
        watch = {"channel_id": "1", "events": ["Leads.edit"], "notify_url": url + "/n"}
        status, body, _ = await client.call(
            "POST", "/crm/v8/actions/watch", json={"watch": [watch]}
        )
        assert status == 200 or status == 201, body
        _, before, _ = await client.call("GET", f"/crm/v8/Leads/{lead}")
        emu.state.advance(5)
        await client.call(
            "POST",
            f"/crm/v8/Leads/{lead}/Notes",
            json={"data": [{"Note_Title": "x", "Note_Content": "y"}]},
        )
        callback = await asyncio.wait_for(bodies.get(), 5)
        assert (callback["module"], callback["operation"]) == ("Leads", "update")
        assert callback["ids"] == [lead]
        _, after, _ = await client.call("GET", f"/crm/v8/Leads/{lead}")
        assert after["data"][0]["Modified_Time"] != before["data"][0]["Modified_Time"]


async def test_a_records_notes_come_oldest_first_by_default(org: Client) -> None:
    lead = await _lead(org)
    base = f"/crm/v8/Leads/{lead}/Notes"
    ids = []
    for n in range(3):
        _, body, _ = await org.call("POST", base, json={"data": [{"Note_Content": f"n{n}"}]})
        ids.append(body["data"][0]["details"]["id"])
    _, body, _ = await org.call("GET", base, params={"fields": "Note_Content"})
    assert [n["id"] for n in body["data"]] == ids
    assert body["info"]["sort_order"] == "asc"
    _, body, _ = await org.call("GET", "/crm/v8/Notes", params={"fields": "Note_Content"})
    assert [n["id"] for n in body["data"]] == ids
    _, body, _ = await org.call(
        "GET", base, params={"fields": "Note_Content", "sort_order": "desc"}
    )
    assert [n["id"] for n in body["data"]] == ids[::-1]


async def test_note_content_is_mandatory(session: aiohttp.ClientSession) -> None:
    behaviour = {"note_content_mandatory": True}
    config = make_config(alpha={"modules": {"Notes": {}}}, behaviour=behaviour)
    async with Emulator(config) as emu:
        org = await login(session, emu, "alpha")
        lead = await _lead(org)
        title_only = {"data": [{"Note_Title": "only a title"}]}
        status, body, _ = await org.call("POST", f"/crm/v8/Leads/{lead}/Notes", json=title_only)
    assert (status, body["data"][0]["code"]) == (400, "MANDATORY_NOT_FOUND")
    assert body["data"][0]["details"] == {
        "api_name": "Note_Content",
        "json_path": "$.data[0].Note_Content",
    }
