"""Bad input: each case gets its status and reason, is counted, and produces nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from tests.support.ingress import (
    CHANNEL_ID,
    CHANNEL_TOKEN,
    PARTITIONS,
    SECRET,
    Ingress,
    TopicReader,
    make_settings,
    running_ingress,
)

GOOD_HOOK = {"module": "Leads", "id": "123"}
GOOD_NOTE = {
    "module": "Leads",
    "ids": ["1", "2"],
    "operation": "update",
    "channel_id": CHANNEL_ID,
    "token": CHANNEL_TOKEN,
}
HEADER = {"X-Orgsync-Secret": SECRET}
BIG = 1024 * 1024 + 1


def _note(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**GOOD_NOTE, **changes}.items() if v is not None}


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


HOOK_CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    (
        "unknown org",
        "/hooks/zoho/nobody",
        {"json": GOOD_HOOK, "headers": HEADER},
        404,
        "unknown_org",
    ),
    ("no secret", "/hooks/zoho/alpha", {"json": GOOD_HOOK}, 401, "unauthorized"),
    (
        "wrong header",
        "/hooks/zoho/alpha",
        {"json": GOOD_HOOK, "headers": {"X-Orgsync-Secret": SECRET + "x"}},
        401,
        "unauthorized",
    ),
    (
        "wrong query secret",
        "/hooks/zoho/alpha?secret=guess",
        {"json": GOOD_HOOK},
        401,
        "unauthorized",
    ),
    (
        "non-ascii secret",
        "/hooks/zoho/alpha?secret=%C3%A9t%C3%A9",
        {"json": GOOD_HOOK},
        401,
        "unauthorized",
    ),
    (
        "wrong body secret",
        "/hooks/zoho/alpha",
        {"data": {**GOOD_HOOK, "secret": "nope"}},
        401,
        "unauthorized",
    ),
    (
        "garbage without secret",
        "/hooks/zoho/alpha",
        {"data": b"\xff{{", "headers": {"Content-Type": "application/json"}},
        401,
        "unauthorized",
    ),
    (
        "invalid JSON",
        "/hooks/zoho/alpha",
        {"data": b"{nope", "headers": {**HEADER, "Content-Type": "application/json"}},
        400,
        "malformed",
    ),
    ("JSON array", "/hooks/zoho/alpha", {"json": [GOOD_HOOK], "headers": HEADER}, 400, "malformed"),
    (
        "unsynced module",
        "/hooks/zoho/alpha",
        {"json": {"module": "Deals", "id": "1"}, "headers": HEADER},
        400,
        "unknown_module",
    ),
    (
        "module of another org",
        "/hooks/zoho/beta",
        {"json": GOOD_HOOK, "headers": HEADER},
        400,
        "unknown_module",
    ),
    ("no module", "/hooks/zoho/alpha", {"json": {"id": "1"}, "headers": HEADER}, 400, "malformed"),
    (
        "no id",
        "/hooks/zoho/alpha",
        {"json": {"module": "Leads"}, "headers": HEADER},
        400,
        "malformed",
    ),
    (
        "non-numeric id",
        "/hooks/zoho/alpha",
        {"json": {"module": "Leads", "id": "12a"}, "headers": HEADER},
        400,
        "bad_id",
    ),
    (
        "one bad id among good",
        "/hooks/zoho/alpha",
        {"data": {"module": "Leads", "ids": "1,2,x"}, "headers": HEADER},
        400,
        "bad_id",
    ),
    (
        "id too long",
        "/hooks/zoho/alpha",
        {"json": {"module": "Leads", "id": "1" * 20}, "headers": HEADER},
        400,
        "bad_id",
    ),
    (
        "bad operation",
        "/hooks/zoho/alpha",
        {"json": {**GOOD_HOOK, "operation": "merge"}, "headers": HEADER},
        400,
        "malformed",
    ),
    (
        "two modules",
        "/hooks/zoho/alpha?module=Contacts",
        {
            "data": "module=Leads&module=Contacts&id=1",
            "headers": {**HEADER, "Content-Type": "application/x-www-form-urlencoded"},
        },
        400,
        "malformed",
    ),
    ("too large", "/hooks/zoho/alpha", {"data": b"x" * BIG, "headers": HEADER}, 413, "too_large"),
]
NOTE_CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("unknown org", "/notify/nobody", {"json": GOOD_NOTE}, 404, "unknown_org"),
    ("wrong token", "/notify/alpha", {"json": _note(token="guess")}, 401, "unauthorized"),
    ("no token", "/notify/alpha", {"json": _note(token=None)}, 401, "unauthorized"),
    (
        "null token",
        "/notify/alpha",
        {"data": orjson.dumps({**GOOD_NOTE, "token": None})},
        401,
        "unauthorized",
    ),
    ("unknown channel", "/notify/alpha", {"json": _note(channel_id="42")}, 401, "unauthorized"),
    ("no channel", "/notify/alpha", {"json": _note(channel_id=None)}, 401, "unauthorized"),
    ("token of another org", "/notify/beta", {"json": GOOD_NOTE}, 401, "unauthorized"),
    ("not JSON", "/notify/alpha", {"data": b"ids=1"}, 400, "malformed"),
    ("JSON list", "/notify/alpha", {"json": [GOOD_NOTE]}, 400, "malformed"),
    ("unsynced module", "/notify/alpha", {"json": _note(module="Deals")}, 400, "unknown_module"),
    ("ids not a list", "/notify/alpha", {"json": _note(ids="1")}, 400, "malformed"),
    ("empty ids", "/notify/alpha", {"json": _note(ids=[])}, 400, "malformed"),
    ("non-numeric id", "/notify/alpha", {"json": _note(ids=["1", "two"])}, 400, "bad_id"),
    ("nested id", "/notify/alpha", {"json": _note(ids=[{"id": "1"}])}, 400, "bad_id"),
    ("bad operation", "/notify/alpha", {"json": _note(operation="all")}, 400, "malformed"),
    ("too large", "/notify/alpha", {"data": b"[" * BIG}, 413, "too_large"),
    ("too large, chunked", "/notify/alpha", {"data": _chunks(b" " * BIG)}, 413, "too_large"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(kafka_bootstrap: str) -> AsyncIterator[tuple[Ingress, TopicReader]]:
    """One ingress and topic for all refusal cases: none of them may produce anything."""
    settings = make_settings(kafka_bootstrap, f"t-refusals-{uuid.uuid4().hex[:8]}")
    await ensure_topics(
        KafkaCluster(kafka_bootstrap), settings.topics.pipeline(settings.targets), PARTITIONS
    )
    async with (
        running_ingress(settings) as ingress,
        TopicReader(kafka_bootstrap, settings.topics.hints) as hints,
    ):
        yield ingress, hints


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("path", "kw", "status", "reason"),
    [c[1:] for c in HOOK_CASES + NOTE_CASES],
    ids=[f"{c[1].split('/')[1]}: {c[0]}" for c in HOOK_CASES + NOTE_CASES],
)
async def test_bad_input_is_refused_counted_and_not_produced(
    shared: tuple[Ingress, TopicReader], path: str, kw: dict[str, Any], status: int, reason: str
) -> None:
    ingress, hints = shared
    before = ingress.rejected(reason)
    got, body = await ingress.post(path, **kw)
    assert got == status
    assert orjson.loads(body)["error"] == reason
    assert ingress.rejected(reason) == before + 1
    assert await hints.count() == 0
