"""Accepted webhooks and callbacks become one hint per id in the hints topic, after the ack."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import aiohttp
import orjson

from tests.support.ingress import CHANNEL_ID, CHANNEL_TOKEN, SECRET, Ingress, TopicReader


async def test_json_webhook_with_header_secret_becomes_a_hint(
    ingress: Ingress, hints: TopicReader
) -> None:
    status, body = await ingress.hook(json={"module": "Leads", "id": "4150868000000224005"})
    assert (status, orjson.loads(body)) == (200, {"status": "ok", "hints": 1})
    (hint,) = await hints.until(lambda seen: len(seen) >= 1)
    assert hints.seen[0][0] == "alpha/Leads/4150868000000224005"
    assert {k: hint[k] for k in ("org", "module", "id", "operation", "source")} == {
        "org": "alpha",
        "module": "Leads",
        "id": "4150868000000224005",
        "operation": "update",
        "source": "webhook",
    }
    assert abs(hint["received_at"] - datetime.now(UTC).timestamp()) < 5
    assert ingress.hints("alpha", "webhook") == 1


async def test_form_webhook_with_secret_in_query_and_several_ids(
    ingress: Ingress, hints: TopicReader
) -> None:
    form = {
        "module": "Contacts",
        "ids": "11,12, 13",
        "operation": "create",
        "modified_time": "2025-06-01T10:00:00+05:30",
    }
    status, _ = await ingress.post(f"/hooks/zoho/alpha?secret={SECRET}", data=form)
    assert status == 200
    seen = await hints.until(lambda seen: len(seen) >= 3)
    assert sorted(h["id"] for h in seen) == ["11", "12", "13"]
    assert {(h["operation"], h["event_time"]) for h in seen} == {
        ("insert", "2025-06-01T10:00:00+05:30")
    }


async def test_secret_and_fields_as_url_parameters_only(
    ingress: Ingress, hints: TopicReader
) -> None:
    query = urlencode({"secret": SECRET, "module": "Leads", "id": "77"})
    status, _ = await ingress.post(f"/hooks/zoho/alpha?{query}")
    assert status == 200
    (hint,) = await hints.until(lambda seen: len(seen) >= 1)
    assert hint["id"] == "77"


async def test_multipart_webhook_with_secret_in_the_body(
    ingress: Ingress, hints: TopicReader
) -> None:
    form = aiohttp.FormData(
        {"secret": SECRET, "module": "Leads", "id": "88", "operation": "delete"}
    )
    form._is_multipart = True  # aiohttp sends multipart only for files unless told
    status, _ = await ingress.post("/hooks/zoho/alpha", data=form)
    assert status == 200
    (hint,) = await hints.until(lambda seen: len(seen) >= 1)
    assert (hint["id"], hint["operation"]) == ("88", "delete")


async def test_notification_callback_batch_becomes_one_hint_per_id(
    ingress: Ingress, hints: TopicReader
) -> None:
    callback = {
        "server_time": 1750102639787,
        "query_params": {},
        "module": "Leads",
        "resource_uri": "https://www.zohoapis.com/crm/v2/Leads",
        "ids": ["101", "102", "103"],
        "affected_fields": [],
        "operation": "insert",
        "channel_id": CHANNEL_ID,
        "token": CHANNEL_TOKEN,
    }
    status, _ = await ingress.post("/notify/alpha", json=callback)
    assert status == 200
    seen = await hints.until(lambda seen: len(seen) >= 3)
    assert sorted(h["id"] for h in seen) == ["101", "102", "103"]
    assert {(h["source"], h["operation"]) for h in seen} == {("notification", "insert")}
    assert seen[0]["event_time"] == "2025-06-16T19:37:19.787+00:00"
    assert ingress.hints("alpha", "notification") == 3


async def test_health_and_metrics_endpoints(ingress: Ingress) -> None:
    await ingress.hook(json={"module": "Leads", "id": "1"})
    async with ingress.session.get(ingress.url + "/healthz") as r:
        assert r.status == 200
    async with ingress.session.get(ingress.url + "/metrics") as r:
        text = await r.text()
    assert 'orgsync_hints_total{org="alpha",source="webhook"} 1.0' in text
    assert SECRET not in text
