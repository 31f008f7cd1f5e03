"""Issue 15 item 7: callbacks name the real Zoho domain, notify_on_related_action (default true)
sends related-record callbacks, Users.all is watchable, a notification_condition needs `module`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.support.emulator import Client, post_receiver
from zoho_emulator import Emulator
from zoho_emulator.notifications import hub_of


class Receiver:
    def __init__(self) -> None:
        self.url = ""
        self.bodies: asyncio.Queue[Any] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.Response:
        await self.bodies.put(orjson.loads(await request.read()))
        return web.Response()

    async def next(self) -> Any:
        return await asyncio.wait_for(self.bodies.get(), 5.0)  # bounded wait, no sleep


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with post_receiver(rec.handle) as rec.url:
        yield rec


def _watch(receiver: Receiver, events: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "watch": [
            {
                "channel_id": "1000000068002",
                "events": events,
                "notify_url": f"{receiver.url}/notify",
                "token": "t",
                **extra,
            }
        ]
    }


async def _subscribe(alpha: Client, body: dict[str, Any]) -> tuple[int, Any]:
    status, answer, _ = await alpha.call("POST", "/crm/v8/actions/watch", json=body)
    return status, answer


async def test_resource_uri_is_the_real_zoho_domain(alpha: Client, receiver: Receiver) -> None:
    status, body = await _subscribe(alpha, _watch(receiver, ["Leads.all"]))
    assert status == 201
    expected = "https://www.zohoapis.in/crm/v2/Leads"  # alpha is in the IN data centre
    assert body["watch"][0]["details"]["events"][0]["resource_uri"] == expected
    await alpha.insert("Leads", {"Last_Name": "R"})
    assert (await receiver.next())["resource_uri"] == expected


async def test_related_record_writes_notify_the_watched_parent(
    emu: Emulator, alpha: Client, receiver: Receiver
) -> None:
    (account,) = await alpha.insert("Accounts", {"Account_Name": "Zylker"})
    status, _ = await _subscribe(alpha, _watch(receiver, ["Accounts.all"]))
    assert status == 201
    _, listing, _ = await alpha.call("GET", "/crm/v8/actions/watch")
    assert listing["watch"][0]["notify_on_related_action"] is True  # the documented default
    await alpha.insert("Contacts", {"Last_Name": "Boyle", "Account_Name": account})
    body = await receiver.next()
    assert (body["module"], body["operation"], body["ids"]) == ("Accounts", "update", [account])
    assert body["affected_fields"] == [{account: []}]
    assert body["resource_uri"] == "https://www.zohoapis.in/crm/v2/Accounts"


async def test_related_callbacks_off_when_asked(
    emu: Emulator, alpha: Client, receiver: Receiver
) -> None:
    (account,) = await alpha.insert("Accounts", {"Account_Name": "Acme"})
    await _subscribe(alpha, _watch(receiver, ["Accounts.all"], notify_on_related_action=False))
    await alpha.insert("Contacts", {"Last_Name": "Burns", "Account_Name": account})
    assert hub_of(emu.app, "alpha").scheduled == 0  # scheduling is synchronous with the write


async def test_users_all_is_watchable(alpha: Client, receiver: Receiver) -> None:
    status, body = await _subscribe(alpha, _watch(receiver, ["Users.all"]))
    assert status == 201
    entry = body["watch"][0]
    assert (entry["code"], entry["details"]["events"][0]["resource_name"]) == ("SUCCESS", "Users")


async def test_a_condition_without_module_is_rejected(alpha: Client, receiver: Receiver) -> None:
    condition = [
        {
            "type": "field_selection",
            "field_selection": {
                "group_operator": "or",
                "group": [{"field": {"api_name": "Phone"}}],
            },
        }
    ]
    status, body = await _subscribe(
        alpha, _watch(receiver, ["Leads.edit"], notification_condition=condition)
    )
    assert status == 400
    assert body["watch"][0] == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {
            "api_name": "module",
            "json_path": "$.watch[0].notification_condition[0].module",
        },
        "message": "required field not found",
        "status": "error",
    }
