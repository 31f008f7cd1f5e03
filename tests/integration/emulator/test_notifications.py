"""Notification API of the emulator: watch channels over HTTP and the callbacks it POSTs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.emulator import post_receiver
from zoho_emulator import Emulator, load_config
from zoho_emulator.notifications import hub_of
from zoho_emulator.webhooks import OUTBOUND

REFRESH = "1000." + "a1" * 16 + "." + "b2" * 16
CLIENT = {
    "client_id": "1000.ALPHACLIENT",
    "client_secret": "alpha-secret",
    "refresh_tokens": [REFRESH],
}
IST = timezone(timedelta(hours=5, minutes=30))


@dataclass
class Receiver:
    """A local HTTP endpoint that records every POST it gets and answers ``status``."""

    url: str = ""
    status: int = 200
    calls: asyncio.Queue[tuple[web.Request, bytes]] = field(default_factory=asyncio.Queue)

    async def handle(self, request: web.Request) -> web.Response:
        await self.calls.put((request, await request.read()))
        return web.Response(status=self.status)

    async def next(self) -> tuple[web.Request, Any]:
        request, body = await asyncio.wait_for(self.calls.get(), 5.0)
        return request, orjson.loads(body) if request.content_type == "application/json" else body


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with post_receiver(rec.handle) as rec.url:
        yield rec


class Api:
    """A logged-in client of one emulated org."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession, token: str) -> None:
        self.emu, self.session, self.token = emu, session, token

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Zoho-oauthtoken {self.token}"}
        async with self.session.request(method, self.emu.url + path, headers=headers, **kw) as r:
            return r.status, (await r.json(content_type=None) if r.status != 204 else None)

    async def watch(self, method: str, body: Any = None, **params: str) -> tuple[int, Any]:
        return await self.call(method, "/crm/v8/actions/watch", json=body, params=params)

    async def insert(self, *records: dict[str, Any], **extra: Any) -> list[str]:
        payload = {"data": list(records), **extra}
        status, body = await self.call("POST", "/crm/v8/Leads", json=payload)
        assert status == 201, body
        return [entry["details"]["id"] for entry in body["data"]]

    async def faults(self, **faults: Any) -> None:
        async with self.session.post(
            self.emu.url + "/__emulator/faults", json={"org": "alpha", **faults}
        ) as r:
            assert r.status == 200, await r.text()


def _config(**extra: Any) -> Any:
    # tokens outlive the one-hour channel expiry, so tests can move the clock past it
    orgs = {"alpha": {"dc": "in", "clients": [CLIENT]}}
    return load_config({"access_token_ttl": 7200, "orgs": orgs, **extra})


async def _login(emu: Emulator, session: aiohttp.ClientSession) -> Api:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT["client_id"],
        "client_secret": CLIENT["client_secret"],
    }
    async with session.post(emu.url + "/oauth/v2/token", data=form) as r:
        token = (await r.json(content_type=None))["access_token"]
    return Api(emu, session, token)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with Emulator(_config(), host="127.0.0.1", port=0) as emu:
        async with aiohttp.ClientSession() as session:
            yield await _login(emu, session)


def _lead(name: str, **values: Any) -> dict[str, Any]:
    return {"Last_Name": name, "Company": "Acme", **values}


def _watch(receiver: Receiver, channel_id: str = "1000000068001", **extra: Any) -> dict[str, Any]:
    return {
        "watch": [
            {
                "channel_id": channel_id,
                "events": ["Leads.all"],
                "notify_url": f"{receiver.url}/notify?org=alpha&k=v",
                "token": "tok-alpha",
                **extra,
            }
        ]
    }


def _hub(api: Api) -> Any:
    return hub_of(api.emu.app, "alpha")


async def test_subscribe_answers_201_with_the_documented_shape(
    api: Api, receiver: Receiver
) -> None:
    status, body = await api.watch("POST", _watch(receiver))
    assert status == 201
    entry = body["watch"][0]
    assert (entry["code"], entry["status"]) == ("SUCCESS", "success")
    assert entry["message"] == "Successfully subscribed for actions-watch of the given module"
    event = entry["details"]["events"][0]
    assert event["resource_name"] == "Leads" and event["channel_id"] == "1000000068001"
    assert event["resource_uri"].endswith("/crm/v2/Leads") and event["resource_id"].isdigit()
    expiry = datetime.fromisoformat(event["channel_expiry"])
    assert expiry.utcoffset() == IST.utcoffset(None)  # the org's DC (in) offset
    assert abs(expiry.timestamp() - time.time() - 3600) < 5  # default: one hour


async def test_get_lists_channels_with_all_expanded(api: Api, receiver: Receiver) -> None:
    await api.watch("POST", _watch(receiver, return_affected_field_values=True))
    status, body = await api.watch("GET", module="Leads")
    assert status == 200
    (item,) = body["watch"]
    assert item["events"] == ["Leads.edit", "Leads.create", "Leads.delete"]
    assert item["token"] == "tok-alpha" and item["notify_on_related_action"] is True
    assert item["return_affected_field_values"] is True and item["fields"] is None
    assert item["notify_url"].endswith("/notify?org=alpha&k=v")
    assert body["info"] == {"per_page": 200, "count": 1, "page": 1, "more_records": False}
    assert (await api.watch("GET", module="Contacts"))[0] == 204


@pytest.mark.parametrize(
    ("entry", "code", "api_name"),
    [
        ({"token": "x" * 51}, "INVALID_DATA", "token"),
        ({"notify_url": None}, "MANDATORY_NOT_FOUND", "notify_url"),
        ({"channel_id": None}, "MANDATORY_NOT_FOUND", "channel_id"),
        ({"channel_id": "abc"}, "INVALID_DATA", "channel_id"),
        ({"events": ["Nope.create"]}, "INVALID_DATA", "events"),
        ({"events": ["Leads.update"]}, "INVALID_DATA", "events"),
        ({"notify_url": "not a url"}, "INVALID_DATA", "notify_url"),
        ({"channel_expiry": "2001-01-01T00:00:00+00:00"}, "INVALID_DATA", "channel_expiry"),
    ],
)
async def test_subscribe_validation_errors(
    api: Api, receiver: Receiver, entry: dict[str, Any], code: str, api_name: str
) -> None:
    body = _watch(receiver)
    body["watch"][0].update(entry)
    body["watch"][0] = {k: v for k, v in body["watch"][0].items() if v is not None}
    status, answer = await api.watch("POST", body)
    assert status == 400
    (error,) = answer["watch"]
    assert (error["code"], error["status"]) == (code, "error")
    assert error["details"]["api_name"] == api_name


async def test_token_of_50_characters_is_accepted_and_mixed_entries_give_207(
    api: Api, receiver: Receiver
) -> None:
    good = _watch(receiver, token="y" * 50)["watch"][0]
    bad = {**good, "channel_id": "2", "token": "y" * 51}
    status, body = await api.watch("POST", {"watch": [good, bad]})
    assert status == 207
    assert [e["status"] for e in body["watch"]] == ["success", "error"]


async def test_expiry_beyond_a_week_falls_back_to_one_hour(api: Api, receiver: Receiver) -> None:
    in_6_days = datetime.now(IST) + timedelta(days=6)
    in_8_days = datetime.now(IST) + timedelta(days=8)
    ok = _watch(receiver, "11", channel_expiry=in_6_days.isoformat(timespec="seconds"))
    far = _watch(receiver, "12", channel_expiry=in_8_days.isoformat(timespec="seconds"))
    _, body_ok = await api.watch("POST", ok)
    _, body_far = await api.watch("POST", far)
    expiry_ok = body_ok["watch"][0]["details"]["events"][0]["channel_expiry"]
    expiry_far = body_far["watch"][0]["details"]["events"][0]["channel_expiry"]
    assert datetime.fromisoformat(expiry_ok) == in_6_days.replace(microsecond=0)
    assert abs(datetime.fromisoformat(expiry_far).timestamp() - time.time() - 3600) < 5


async def test_insert_of_three_records_is_one_callback_with_three_ids(
    api: Api, receiver: Receiver
) -> None:
    await api.watch("POST", _watch(receiver))
    ids = await api.insert(_lead("A"), _lead("B"), _lead("C"), trigger=[])
    request, body = await receiver.next()
    assert request.path == "/notify" and request.content_type == "application/json"
    assert body["ids"] == ids and body["operation"] == "insert" and body["module"] == "Leads"
    assert body["affected_fields"] == [] and "affected_values" not in body
    assert body["channel_id"] == "1000000068001" and body["token"] == "tok-alpha"
    assert body["query_params"] == {"org": "alpha", "k": "v"}
    assert body["resource_uri"].endswith("/crm/v2/Leads")
    assert abs(body["server_time"] - time.time() * 1000) < 5000


async def test_update_and_delete_callbacks(api: Api, receiver: Receiver) -> None:
    await api.watch("POST", _watch(receiver, return_affected_field_values=True))
    (lead_id,) = await api.insert(_lead("A"))
    await receiver.next()
    status, _ = await api.call(
        "PUT", "/crm/v8/Leads", json={"data": [{"id": lead_id, "Phone": "555-1111"}]}
    )
    assert status == 200
    _, update = await receiver.next()
    assert update["operation"] == "update" and update["ids"] == [lead_id]
    assert update["affected_fields"] == [{lead_id: ["Phone"]}]
    assert update["affected_values"] == [{"record_id": lead_id, "values": {"Phone": "555-1111"}}]
    status, _ = await api.call("DELETE", "/crm/v8/Leads", params={"ids": lead_id})
    assert status == 200
    _, delete = await receiver.next()
    assert (delete["operation"], delete["ids"]) == ("delete", [lead_id])


async def test_only_subscribed_operations_are_delivered(api: Api, receiver: Receiver) -> None:
    body = _watch(receiver)
    body["watch"][0]["events"] = ["Leads.edit"]
    await api.watch("POST", body)
    await api.insert(_lead("A"))
    await api.insert(_lead("B"), _lead("C"))
    assert _hub(api).scheduled == 0
    assert receiver.calls.empty()


async def test_expired_channel_stops_and_disappears(api: Api, receiver: Receiver) -> None:
    await api.watch("POST", _watch(receiver))
    api.emu.state.advance(3601)
    await api.insert(_lead("A"))
    assert _hub(api).scheduled == 0
    assert (await api.watch("GET"))[0] == 204


async def test_patch_delete_events_put_replace_and_disable(api: Api, receiver: Receiver) -> None:
    await api.watch("POST", _watch(receiver))
    patch = {
        "watch": [
            {"channel_id": "1000000068001", "events": ["Leads.create"], "_delete_events": True}
        ]
    }
    status, body = await api.watch("PATCH", patch)
    assert status == 200
    assert body["watch"][0]["message"] == "Successfully removed the subscribe details"
    _, listed = await api.watch("GET")
    assert listed["watch"][0]["events"] == ["Leads.edit", "Leads.delete"]
    put = {
        "watch": [
            {
                "channel_id": "1000000068001",
                "events": ["Leads.create"],
                "notify_url": f"{receiver.url}/other",
            }
        ]
    }
    assert (await api.watch("PUT", put))[0] == 200
    _, listed = await api.watch("GET")
    assert listed["watch"][0]["token"] is None  # PUT removes what it does not name
    assert listed["watch"][0]["events"] == ["Leads.create"]
    status, body = await api.watch("DELETE", channel_ids="1000000068001,999")
    assert status == 207
    assert [e["code"] for e in body["watch"]] == ["SUCCESS", "NOT_SUBSCRIBED"]
    assert body["watch"][0]["message"] == "Successfully un-subscribed from actions-watch"
    await api.insert(_lead("A"))
    assert _hub(api).scheduled == 0


async def test_update_of_unknown_channel_is_not_subscribed(api: Api, receiver: Receiver) -> None:
    status, body = await api.watch("PATCH", {"watch": [{"channel_id": "5", "token": "t"}]})
    assert status == 400 and body["watch"][0]["code"] == "NOT_SUBSCRIBED"
    status, body = await api.watch("DELETE")
    assert status == 400 and body["code"] == "REQUIRED_PARAM_MISSING"


async def test_drop_and_duplicate_faults(api: Api, receiver: Receiver) -> None:
    await api.watch("POST", _watch(receiver))
    await api.faults(drop_notifications=1.0)
    await api.insert(_lead("A"))
    await api.insert(_lead("B"))
    assert api.emu.state.orgs["alpha"].stats.notifications["dropped"] == 2
    await api.faults(drop_notifications=0.0, duplicate_notifications=1.0)
    ids = await api.insert(_lead("C"))
    first, second = (await receiver.next())[1], (await receiver.next())[1]
    assert first == second and first["ids"] == ids
    await api.emu.app[OUTBOUND].idle()
    async with api.session.get(api.emu.url + "/__emulator/stats") as r:
        stats = (await r.json())["orgs"]["alpha"]["notifications"]
    assert stats == {"sent": 2, "failed": 0, "dropped": 2}


async def test_delay_fault_holds_the_callback_back(api: Api, receiver: Receiver) -> None:
    await api.watch("POST", _watch(receiver))
    await api.faults(delay_notifications_ms=300)
    started = time.monotonic()
    await api.insert(_lead("A"))
    await receiver.next()
    assert time.monotonic() - started >= 0.3


async def test_failed_callback_is_counted_and_not_retried_by_default(
    api: Api, receiver: Receiver
) -> None:
    receiver.status = 500
    await api.watch("POST", _watch(receiver))
    await api.insert(_lead("A"))
    await receiver.next()
    await api.emu.app[OUTBOUND].idle()
    assert api.emu.state.orgs["alpha"].stats.notifications == {"sent": 0, "failed": 1, "dropped": 0}
    assert receiver.calls.empty()


async def test_retry_switch_retries_failed_callbacks(receiver: Receiver) -> None:
    config = _config(notifications={"retries": 2, "retry_backoff_s": 0.01})
    receiver.status = 503
    async with Emulator(config, host="127.0.0.1", port=0) as emu:
        async with aiohttp.ClientSession() as session:
            api = await _login(emu, session)
            await api.watch("POST", _watch(receiver))
            await api.insert(_lead("A"))
            bodies = [(await receiver.next())[1] for _ in range(3)]
            await emu.app[OUTBOUND].idle()
    assert bodies[0] == bodies[1] == bodies[2]
    assert emu.state.orgs["alpha"].stats.notifications["failed"] == 1


async def test_notification_condition_filters_edits(api: Api, receiver: Receiver) -> None:
    condition = [
        {
            "type": "field_selection",
            "module": {"api_name": "Leads"},
            "field_selection": {
                "group_operator": "or",
                "group": [{"field": {"api_name": "Phone"}}],
            },
        }
    ]
    await api.watch("POST", _watch(receiver, notification_condition=condition))
    (lead_id,) = await api.insert(_lead("A"))
    await receiver.next()
    await api.call("PUT", "/crm/v8/Leads", json={"data": [{"id": lead_id, "Company": "Other"}]})
    assert _hub(api).scheduled == 1  # Company is not a watched field
    await api.call("PUT", "/crm/v8/Leads", json={"data": [{"id": lead_id, "Phone": "1"}]})
    _, body = await receiver.next()
    assert body["affected_fields"] == [{lead_id: ["Phone"]}]


async def test_one_channel_watches_several_modules(api: Api, receiver: Receiver) -> None:
    body = _watch(receiver)
    body["watch"][0]["events"] = ["Leads.create", "Contacts.all"]
    status, answer = await api.watch("POST", body)
    assert status == 201
    names = [e["resource_name"] for e in answer["watch"][0]["details"]["events"]]
    assert sorted(names) == ["Contacts", "Leads"]
    _, listed = await api.watch("GET", channel_id="1000000068001")
    assert len(listed["watch"]) == 2
    status, created = await api.call(
        "POST", "/crm/v8/Contacts", json={"data": [{"Last_Name": "C"}]}
    )
    assert status == 201
    _, callback = await receiver.next()
    assert callback["module"] == "Contacts"
    assert callback["ids"] == [created["data"][0]["details"]["id"]]
    patch = {"channel_id": "1000000068001", "events": ["Leads.edit"], "token": "new"}
    status, answer = await api.watch("PATCH", patch)  # the bare form of the v8 OpenAPI file
    assert status == 200
    assert answer["watch"][0]["message"] == "Successfully updated the subscribe details"
    _, listed = await api.watch("GET", module="Leads")
    assert listed["watch"][0]["events"] == ["Leads.edit", "Leads.create"]
    assert listed["watch"][0]["token"] == "new"


async def test_reset_keeps_channels_and_zeroes_counters(api: Api, receiver: Receiver) -> None:
    await api.watch("POST", _watch(receiver))
    await api.insert(_lead("A"))
    await receiver.next()
    await api.emu.app[OUTBOUND].idle()
    assert api.emu.state.orgs["alpha"].stats.notifications["sent"] == 1
    async with api.session.post(api.emu.url + "/__emulator/reset") as r:
        assert r.status == 200
    assert api.emu.state.orgs["alpha"].stats.notifications["sent"] == 0
    ids = await api.insert(_lead("B"))
    assert (await receiver.next())[1]["ids"] == ids


async def test_batching_trigger_and_resource_uri_switches(receiver: Receiver) -> None:
    config = _config(
        notifications={"ids_per_callback": 2, "respect_trigger": True, "resource_uri_version": "v8"}
    )
    async with Emulator(config, host="127.0.0.1", port=0) as emu:
        async with aiohttp.ClientSession() as session:
            api = await _login(emu, session)
            await api.watch("POST", _watch(receiver))
            await api.insert(_lead("Quiet"), trigger=[])  # respect_trigger: no callback
            assert hub_of(emu.app, "alpha").scheduled == 0
            ids = await api.insert(*(_lead(str(n)) for n in range(5)))
            bodies = [(await receiver.next())[1] for _ in range(3)]
            await emu.app[OUTBOUND].idle()
    assert sorted(b["ids"] for b in bodies) == [ids[0:2], ids[2:4], ids[4:]]  # any order
    assert all(b["resource_uri"].endswith("/crm/v8/Leads") for b in bodies)
    assert receiver.calls.empty()
