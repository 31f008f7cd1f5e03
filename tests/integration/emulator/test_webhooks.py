"""Workflow-rule webhooks from the emulator config: fired per record on create/edit, per trigger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.emulator import post_receiver
from zoho_emulator import Emulator, load_config
from zoho_emulator.webhooks import OUTBOUND, webhooks_of

REFRESH = "1000." + "e5" * 16 + "." + "f6" * 16
CLIENT = {
    "client_id": "1000.HOOKCLIENT",
    "client_secret": "hook-secret",
    "refresh_tokens": [REFRESH],
}


class Hooks:
    """Records the webhook POSTs the emulator sends."""

    def __init__(self) -> None:
        self.url = ""
        self.status = 200
        self.calls: asyncio.Queue[tuple[str, str, dict[str, str], Any]] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if request.content_type == "application/json":
            body: Any = orjson.loads(raw)
        else:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        await self.calls.put((request.path, request.content_type, dict(request.query), body))
        return web.Response(text="ok", status=self.status)

    async def next(self) -> tuple[str, str, dict[str, str], Any]:
        return await asyncio.wait_for(self.calls.get(), 5.0)


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    rec = Hooks()
    async with post_receiver(rec.handle) as rec.url:
        yield rec


class Crm:
    def __init__(self, emu: Emulator, session: aiohttp.ClientSession, token: str) -> None:
        self.emu, self.session, self.token = emu, session, token

    async def write(
        self, method: str, module: str, records: list[dict[str, Any]], **extra: Any
    ) -> list[str]:
        headers = {"Authorization": f"Zoho-oauthtoken {self.token}"}
        async with self.session.request(
            method,
            f"{self.emu.url}/crm/v8/{module}",
            headers=headers,
            json={"data": records, **extra},
        ) as r:
            body = await r.json(content_type=None)
            assert r.status in (200, 201), body
        return [entry["details"]["id"] for entry in body["data"]]

    def scheduled(self) -> int:
        return webhooks_of(self.emu.app, "alpha").stats.scheduled


@pytest.fixture
async def crm(hooks: Hooks) -> AsyncIterator[Crm]:
    webhooks = [
        {
            "module": "Leads",
            "on": ["create", "edit"],
            "url": f"{hooks.url}/hooks/alpha?src=zoho",
            "body": "json",
        },
        {
            "module": "Contacts",
            "on": ["create"],
            "url": f"{hooks.url}/hooks/contacts",
            "body": "form",
        },
    ]
    config = load_config({"orgs": {"alpha": {"clients": [CLIENT], "webhooks": webhooks}}})
    async with Emulator(config, host="127.0.0.1", port=0) as emu:
        async with aiohttp.ClientSession() as session:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": REFRESH,
                "client_id": CLIENT["client_id"],
                "client_secret": CLIENT["client_secret"],
            }
            async with session.post(emu.url + "/oauth/v2/token", data=form) as r:
                token = (await r.json(content_type=None))["access_token"]
            yield Crm(emu, session, token)


def _lead(name: str) -> dict[str, Any]:
    return {"Last_Name": name, "Company": "Acme"}


async def test_create_posts_json_with_id_and_module_per_record(crm: Crm, hooks: Hooks) -> None:
    ids = await crm.write("POST", "Leads", [_lead("A"), _lead("B")])
    calls = [await hooks.next(), await hooks.next()]
    assert {body["id"] for *_, body in calls} == set(ids)
    for path, content_type, query, body in calls:
        assert (path, content_type, query) == ("/hooks/alpha", "application/json", {"src": "zoho"})
        assert body["module"] == "Leads"


async def test_edit_fires_and_delete_does_not(crm: Crm, hooks: Hooks) -> None:
    (lead_id,) = await crm.write("POST", "Leads", [_lead("A")])
    await hooks.next()
    await crm.write("PUT", "Leads", [{"id": lead_id, "Phone": "555-0101"}])
    *_, body = await hooks.next()
    assert body == {"module": "Leads", "id": lead_id}
    before = crm.scheduled()
    headers = {"Authorization": f"Zoho-oauthtoken {crm.token}"}
    async with crm.session.delete(
        f"{crm.emu.url}/crm/v8/Leads", params={"ids": lead_id}, headers=headers
    ) as r:
        assert r.status == 200
    assert crm.scheduled() == before


@pytest.mark.parametrize(
    ("trigger", "fires"),
    [
        (["workflow"], True),
        (["approval", "workflow"], True),
        ([], False),
        (["approval"], False),
    ],
)
async def test_trigger_decides_whether_workflows_run(
    crm: Crm, hooks: Hooks, trigger: list[str], fires: bool
) -> None:
    ids = await crm.write("POST", "Leads", [_lead("A")], trigger=trigger)
    assert crm.scheduled() == (1 if fires else 0)
    if fires:
        assert (await hooks.next())[3]["id"] == ids[0]
    await crm.emu.app[OUTBOUND].idle()
    assert hooks.calls.empty() is True


async def test_form_body_and_on_filter(crm: Crm, hooks: Hooks) -> None:
    (contact_id,) = await crm.write("POST", "Contacts", [{"Last_Name": "C"}])
    path, content_type, _, body = await hooks.next()
    assert (path, content_type) == ("/hooks/contacts", "application/x-www-form-urlencoded")
    assert body == {"module": "Contacts", "id": contact_id}
    await crm.write("PUT", "Contacts", [{"id": contact_id, "Phone": "1"}])  # rule is create-only
    assert crm.scheduled() == 1


async def test_failed_webhook_is_counted_and_not_retried(crm: Crm, hooks: Hooks) -> None:
    hooks.status = 500
    await crm.write("POST", "Leads", [_lead("A")])
    await hooks.next()
    await crm.emu.app[OUTBOUND].idle()
    assert webhooks_of(crm.emu.app, "alpha").stats.as_dict() == {"sent": 0, "failed": 1}
    assert hooks.calls.empty() is True
