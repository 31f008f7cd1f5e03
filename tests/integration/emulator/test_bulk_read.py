"""Bulk Read API (reference §8/§11): create job → poll → download the ZIP'd CSV; criteria,
paging, credits, errors, the download throttle and the completion callback."""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.emulator import Client, login, make_config, post_receiver
from zoho_emulator import Emulator

BULK = "/crm/bulk/v8/read"


def _config(**behaviour: Any) -> dict[str, Any]:
    config = make_config(behaviour={"bulk_read_job_delay_s": 0, **behaviour})
    contacts = {"fields": [{"api_name": "Tags_Ms", "data_type": "multiselectpicklist"}]}
    config["orgs"]["alpha"]["modules"]["Contacts"] = copy.deepcopy(contacts)
    return config


@pytest.fixture
async def crm(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    async with Emulator(_config()) as emu:
        yield await login(session, emu, "alpha")


async def _create(client: Client, query: dict[str, Any], **extra: Any) -> tuple[int, Any]:
    status, body, _ = await client.call("POST", BULK, json={"query": query, **extra})
    return status, body


async def _job(client: Client, job_id: str) -> dict[str, Any]:
    status, body, _ = await client.call("GET", f"{BULK}/{job_id}")
    assert status == 200, body
    job: dict[str, Any] = body["data"][0]
    return job


async def _download(client: Client, url: str) -> tuple[int, list[list[str]] | Any]:
    headers = {"Authorization": f"Zoho-oauthtoken {client.token}"}
    async with client.session.get(client.emu.url + url, headers=headers) as r:
        raw = await r.read()
        if r.status != 200:
            return r.status, orjson.loads(raw)
        assert r.content_type == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(raw))
        (name,) = archive.namelist()
        assert name == url.split("/")[-2] + ".csv"
        return 200, list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"))))


async def _export(client: Client, query: dict[str, Any]) -> tuple[dict[str, Any], list[list[str]]]:
    status, body = await _create(client, query)
    assert status == 201, body
    job = await _job(client, body["data"][0]["details"]["id"])
    assert job["state"] == "COMPLETED"
    status, rows = await _download(client, job["result"]["download_url"])
    assert status == 200
    return job, rows


async def test_create_poll_complete_download(session: aiohttp.ClientSession) -> None:
    async with Emulator(_config(bulk_read_job_delay_s=30)) as emu:
        client = await login(session, emu, "alpha")
        (account,) = await client.insert("Accounts", {"Account_Name": "Zylker"})
        (contact,) = await client.insert(
            "Contacts",
            {
                "Last_Name": "Boyle",
                "Account_Name": {"id": account},
                "Tags_Ms": ["a", "b c"],
                "Email_Opt_Out": True,
            },
        )
        status, body = await _create(
            client,
            {
                "module": {"api_name": "Contacts"},
                "fields": ["Last_Name", "Account_Name", "Owner", "Tags_Ms", "Email_Opt_Out"]
                + ["Email", "Created_Time", "Account_Name.Account_Name"],
            },
            file_type="csv",
        )
        assert status == 201
        assert body["info"] == {}
        (entry,) = body["data"]
        assert (entry["status"], entry["code"], entry["message"]) == (
            "success",
            "ADDED_SUCCESSFULLY",
            "Added successfully.",
        )
        details = entry["details"]
        assert details["operation"] == "read" and details["state"] == "ADDED"
        assert set(details["created_by"]) == {"id", "name"} and details["created_time"]
        job_id = details["id"]

        states = [(await _job(client, job_id))["state"]]
        for seconds in (12, 10, 10):
            emu.state.advance(seconds)
            states.append((await _job(client, job_id))["state"])
        assert states == ["ADDED", "QUEUED", "IN PROGRESS", "COMPLETED"]
        job = await _job(client, job_id)
        assert job["query"]["module"]["api_name"] == "Contacts" and job["query"]["page"] == 1
        assert job["file_type"] == "csv"
        assert job["result"] == {
            "page": 1,
            "per_page": 200000,
            "count": 1,
            "download_url": f"/crm/bulk/v8/read/{job_id}/result",
            "more_records": False,
            "next_page_token": None,
        }
        owner = emu.state.orgs["alpha"].api_user.id
        status, rows = await _download(client, job["result"]["download_url"])
        assert status == 200
        assert rows[0] == ["id", "Last_Name", "Account_Name", "Owner", "Tags_Ms"] + [
            "Email_Opt_Out",
            "Email",
            "Created_Time",
            "Account_Name.Account_Name",
        ]
        assert rows[1][:7] == [contact, "Boyle", account, owner, "a;b c", "true", ""]
        assert rows[1][7].endswith("+05:30") and rows[1][8] == "Zylker"  # alpha is in `in`


async def test_all_fields_when_none_given(crm: Client) -> None:
    (lead,) = await crm.insert("Leads", {"Last_Name": "Smith", "No_of_Employees": 5})
    _, rows = await _export(crm, {"module": {"api_name": "Leads"}})
    header = rows[0]
    assert header[0] == "id" and {"Last_Name", "Modified_Time", "Languages"} <= set(header)
    row = dict(zip(header, rows[1], strict=True))
    assert row["id"] == lead and row["No_of_Employees"] == "5" and row["Email"] == ""


async def test_criteria_on_modified_time_and_groups(crm: Client) -> None:
    old = await crm.insert("Leads", {"Last_Name": "Old", "Company": "Acme"})
    crm.emu.state.advance(100)
    since = await _after_created(crm, old[0], seconds=50)
    new = await crm.insert(
        "Leads", {"Last_Name": "New", "Company": "Zylker"}, {"Last_Name": "Newer", "Company": "X"}
    )
    by_time = {
        "field": {"api_name": "Modified_Time"},
        "comparator": "greater_equal",
        "value": since,
    }
    _, rows = await _export(crm, {"module": {"api_name": "Leads"}, "criteria": by_time})
    assert [r[0] for r in rows[1:]] == sorted(new)
    group = {
        "group_operator": "or",
        "group": [
            {"field": {"api_name": "Company"}, "comparator": "in", "value": ["acme", "X"]},
            {
                "group_operator": "and",
                "group": [
                    by_time,
                    {"field": {"api_name": "Last_Name"}, "comparator": "equal", "value": "new"},
                ],
            },
        ],
    }
    _, rows = await _export(crm, {"module": {"api_name": "Leads"}, "criteria": group})
    assert sorted(r[0] for r in rows[1:]) == sorted([old[0], *new])


async def _after_created(crm: Client, lead: str, seconds: int) -> str:
    """The record's Created_Time (as the API renders it) plus some seconds, ISO-8601."""
    status, body, _ = await crm.call("GET", f"/crm/v8/Leads/{lead}")
    assert status == 200
    created = datetime.fromisoformat(body["data"][0]["Created_Time"])
    return (created + timedelta(seconds=seconds)).isoformat()


async def test_paging_with_a_small_page(session: aiohttp.ClientSession) -> None:
    async with Emulator(_config(bulk_read_per_page=2)) as emu:
        client = await login(session, emu, "alpha")
        ids = sorted(await client.insert("Leads", *({"Last_Name": f"L{i}"} for i in range(5))))
        query: dict[str, Any] = {"module": {"api_name": "Leads"}, "fields": ["Last_Name"]}
        pages = []
        for page in (1, 2, 3):
            job, rows = await _export(client, {**query, "page": page})
            pages.append((job["result"]["count"], job["result"]["more_records"], rows[1:]))
        assert [(count, more) for count, more, _ in pages] == [(2, True), (2, True), (1, False)]
        assert [r[0] for _, _, rows in pages for r in rows] == ids
        first, _ = await _export(client, query)
        token = first["result"]["next_page_token"]
        assert token and first["result"]["per_page"] == 2
        _, rows = await _export(client, {**query, "page_token": token})
        assert [r[0] for r in rows[1:]] == ids[2:4]


async def test_credits_create_50_poll_1_download_0(crm: Client) -> None:
    stats = crm.emu.state.orgs["alpha"].stats
    before = stats.credits_used
    status, body = await _create(crm, {"module": {"api_name": "Leads"}})
    assert status == 201 and stats.credits_used - before == 50
    job = await _job(crm, body["data"][0]["details"]["id"])
    assert stats.credits_used - before == 51
    await _download(crm, job["result"]["download_url"])
    assert stats.credits_used - before == 51


async def test_unknown_job_and_non_json_body(crm: Client) -> None:
    for path in (f"{BULK}/123456", f"{BULK}/123456/result"):
        status, body, _ = await crm.call("GET", path)
        assert status == 404 and body["code"] == "RESOURCE_NOT_FOUND"
        assert body["details"] == {"resource": "123456"}
    status, body, _ = await crm.call("POST", BULK, data=b"query=x")
    assert status == 415 and body["code"] == "MEDIA_TYPE_NOT_SUPPORTED"


def _cond(field: str, comparator: str, value: Any) -> dict[str, Any]:
    return {"field": {"api_name": field}, "comparator": comparator, "value": value}


@pytest.mark.parametrize(
    ("query", "code", "details"),
    [
        ({"module": {"api_name": "Nope"}}, "MODULE_NOT_AVAILABLE", None),
        ({"module": {"api_name": "Notes"}}, "MODULE_NOT_SUPPORTED", {"api_name": "Notes"}),
        ({"module": {"api_name": "Attachments"}}, "MODULE_NOT_SUPPORTED", None),
        ({"module": {"api_name": "Emails"}}, "MODULE_NOT_SUPPORTED", None),
        ({"module": {"api_name": "Leads"}, "fields": ["Nope"]}, "FIELD_NOT_SUPPORTED", None),
        ({"module": {"api_name": "Leads"}, "criteria": {"field": "x"}}, "INVALID_CRITERIA", None),
        (
            {"module": {"api_name": "Leads"}, "criteria": _cond("Last_Name", "less_than", "a")},
            "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED",
            None,
        ),
        (
            {
                "module": {"api_name": "Leads"},
                "criteria": {"group_operator": "xor", "group": [_cond("Email", "equal", "a")]},
            },
            "GROUP_OPERATOR_NOT_SUPPORTED",
            None,
        ),
        (
            {
                "module": {"api_name": "Leads"},
                "criteria": {
                    "group_operator": "and",
                    "group": [_cond("Last_Name", "equal", str(i)) for i in range(26)],
                },
            },
            "CRITERIA_LIMIT_EXCEEDED",
            {"max_limit": 25},
        ),
    ],
)
async def test_request_errors(
    crm: Client, query: dict[str, Any], code: str, details: dict[str, Any] | None
) -> None:
    status, body = await _create(crm, query)
    assert status == 400 and body["code"] == code and body["status"] == "error", body
    if details is not None:
        assert body["details"] == details


async def test_bad_callback_method(crm: Client) -> None:
    callback = {"url": "https://example.com/cb", "method": "get"}
    status, body = await _create(crm, {"module": {"api_name": "Leads"}}, callback=callback)
    assert status == 400 and body["code"] == "INVALID_CALLBACK_METHOD"
    assert body["details"] == {"supported_callback_methods": ["post"]}


async def test_download_throttle_ten_per_minute(crm: Client) -> None:
    status, body = await _create(crm, {"module": {"api_name": "Leads"}, "fields": ["Last_Name"]})
    url = f"{BULK}/{body['data'][0]['details']['id']}/result"
    for _ in range(10):
        assert (await _download(crm, url))[0] == 200
    status, err = await _download(crm, url)
    assert status == 429 and err["code"] == "TOO_MANY_REQUESTS"
    crm.emu.state.advance(61)
    assert (await _download(crm, url))[0] == 200


async def test_callback_posts_the_job_when_completed(crm: Client) -> None:
    received: asyncio.Queue[Any] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        await received.put((request.content_type, orjson.loads(await request.read())))
        return web.Response(text="ok")

    (lead,) = await crm.insert("Leads", {"Last_Name": "Hook"})
    async with post_receiver(handle) as url:
        callback = {"url": url + "/bulk", "method": "post"}
        status, body = await _create(crm, {"module": {"api_name": "Leads"}}, callback=callback)
        assert status == 201
        content_type, callback_body = await asyncio.wait_for(received.get(), 5)
    assert content_type == "application/json"
    (job,) = callback_body["data"]  # wrapped as the v7 create-job page's sample callback
    assert job == await _job(crm, body["data"][0]["details"]["id"])
    assert job["state"] == "COMPLETED" and job["result"]["count"] == 1
