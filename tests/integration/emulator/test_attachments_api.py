"""Attachments API (reference §14): upload (file, link), list, download bytes, size limit,
delete, and the documented errors."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator

LIMIT = 64 * 1024


@pytest.fixture
async def org(session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    config = make_config(behaviour={"attachment_max_bytes": LIMIT})
    async with Emulator(config) as emu:
        yield await login(session, emu, "alpha")


def _form(data: bytes, name: str = "quote.pdf") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/pdf")
    return form


async def test_upload_list_download_delete(org: Client) -> None:
    (lead,) = await org.insert("Leads", {"Last_Name": "Doe"})
    base = f"/crm/v8/Leads/{lead}/Attachments"
    payload = os.urandom(40_000) + b"\x00\xff"
    status, body, _ = await org.call("POST", base, data=_form(payload))
    assert status == 200, body
    entry = body["data"][0]
    assert (entry["code"], entry["message"]) == ("SUCCESS", "attachment uploaded successfully")
    att = entry["details"]["id"]

    status, body, _ = await org.call("GET", base)
    assert (status, body["code"]) == (400, "REQUIRED_PARAM_MISSING")
    status, body, _ = await org.call(
        "GET", base, params={"fields": "File_Name,Size,$file_id,Created_Time,$type"}
    )
    assert status == 200
    (item,) = body["data"]
    assert item["id"] == att and item["File_Name"] == "quote.pdf"
    assert item["Size"] == str(len(payload)) and item["$type"] == "File" and item["$file_id"]

    async with org.session.get(
        org.emu.url + f"{base}/{att}", headers={"Authorization": f"Zoho-oauthtoken {org.token}"}
    ) as r:
        assert r.status == 200
        got = await r.read()
        assert r.headers["Content-Type"] == "application/pdf"
        assert "quote.pdf" in r.headers["Content-Disposition"]
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()

    status, body, _ = await org.call("DELETE", base, params={"ids": f"{att},123"})
    assert status == 207
    assert [e["message"] for e in body["data"]] == ["record deleted", "record not deleted"]
    status, _, _ = await org.call("GET", base, params={"fields": "File_Name"})
    assert status == 204


async def test_oversize_link_and_errors(org: Client) -> None:
    (lead,) = await org.insert("Leads", {"Last_Name": "Doe"})
    base = f"/crm/v8/Leads/{lead}/Attachments"
    status, body, _ = await org.call("POST", base, data=_form(b"x" * (LIMIT + 1)))
    assert (status, body["code"]) == (413, "FILE_SIZE_MORE_THAN_ALLOWED_SIZE")

    form = aiohttp.FormData()
    form.add_field("attachmentUrl", "https://example.com/spec")
    form.add_field("title", "Spec")
    status, body, _ = await org.call("POST", base, data=form)
    assert status == 200, body
    link = body["data"][0]["details"]["id"]
    status, body, _ = await org.call("GET", f"{base}/{link}")
    assert (status, body["code"]) == (400, "DOWNLOAD_NOT_ALLOWED")
    _, body, _ = await org.call("GET", base, params={"fields": "File_Name,$type,$link_url"})
    assert body["data"][0]["$type"] == "Link URL"
    assert body["data"][0]["$link_url"] == "https://example.com/spec"

    status, body, _ = await org.call("POST", "/crm/v8/Leads/999/Attachments", data=_form(b"x"))
    assert (status, body["details"]) == (400, {"resource_path_index": 1})
    status, body, _ = await org.call("POST", base, data=aiohttp.FormData({"other": "1"}))
    assert (status, body["code"]) == (400, "REQUIRED_PARAM_MISSING")


async def test_upload_and_delete_are_related_actions_on_the_parent(org: Client) -> None:
    (lead,) = await org.insert("Leads", {"Last_Name": "Doe"})
    seen: list[tuple[str, tuple[str, ...], str]] = []
    org.emu.state.orgs["alpha"].add_related_listener(lambda m, ids, k: seen.append((m, ids, k)))
    base = f"/crm/v8/Leads/{lead}/Attachments"
    _, body, _ = await org.call("POST", base, data=_form(b"abc"))
    await org.call("DELETE", f"{base}/{body['data'][0]['details']['id']}")
    assert seen == [("Leads", (lead,), "Attachments")] * 2
