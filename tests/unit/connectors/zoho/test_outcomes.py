from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.zoho.errors import DuplicateData
from connectors.zoho.notifications import WatchChannel
from connectors.zoho.outcomes import parse_write_response
from connectors.zoho.records import _next_token, chunked, zoho_datetime

UPSERT = {
    "data": [
        {
            "code": "SUCCESS",
            "duplicate_field": "Email",
            "action": "update",
            "details": {"id": "4150868000000376008"},
            "message": "record updated",
            "status": "success",
        },
        {
            "code": "DUPLICATE_DATA",
            "status": "error",
            "message": "duplicate data",
            "details": {"api_name": "Email", "duplicate_record": {"id": "5725767000000774010"}},
        },
        {
            "code": "SUCCESS",
            "duplicate_field": None,
            "action": "insert",
            "details": {"id": "4150868000000376009"},
            "message": "record added",
            "status": "success",
        },
    ]
}


def test_upsert_outcomes_in_order() -> None:
    out = parse_write_response(UPSERT, 3, "insert")
    assert [(o.ok, o.action, o.id) for o in out] == [
        (True, "update", "4150868000000376008"),
        (False, None, None),
        (True, "insert", "4150868000000376009"),
    ]
    assert out[0].duplicate_field == "Email"
    bad = out[1]
    assert (bad.code, bad.message) == ("DUPLICATE_DATA", "duplicate data")
    assert bad.details["duplicate_record"]["id"] == "5725767000000774010"
    assert bad.error_class is DuplicateData and not bad.retryable


def test_default_action_and_missing_entries() -> None:
    body = {"data": [{"code": "SUCCESS", "details": {"id": "1"}, "status": "success"}]}
    out = parse_write_response(body, 3, "update")
    assert out[0].action == "update" and out[0].ok
    assert [o.code for o in out[1:]] == ["UNEXPECTED_RESPONSE"] * 2


@pytest.mark.parametrize("body", [None, {}, {"data": "x"}, {"data": [1]}, []])
def test_garbage_bodies_become_failed_outcomes(body: object) -> None:
    out = parse_write_response(body, 1, "insert")
    assert len(out) == 1 and not out[0].ok


def test_retryable_outcome() -> None:
    body = {"data": [{"code": "INTERNAL_ERROR", "status": "error", "message": "x"}]}
    assert parse_write_response(body, 1, "insert")[0].retryable


def test_chunked() -> None:
    assert [len(c) for c in chunked(list(range(250)), 100)] == [100, 100, 50]
    assert chunked([], 100) == []
    with pytest.raises(ValueError):
        chunked([1], 0)


def test_zoho_datetime() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert (
        zoho_datetime(datetime(2024, 1, 2, 3, 4, 5, 999, tzinfo=ist)) == "2024-01-02T03:04:05+05:30"
    )
    assert zoho_datetime(datetime(2024, 1, 2, tzinfo=UTC)) == "2024-01-02T00:00:00+00:00"
    with pytest.raises(ValueError, match="aware"):
        zoho_datetime(datetime(2024, 1, 2))


@pytest.mark.parametrize(
    ("page", "token", "expected"),
    [(1, "abc", None), (9, "abc", None), (10, "abc", "abc"), (12, "def", "def"), (10, None, None)],
)
def test_discrete_pages_then_page_token(page: int, token: str | None, expected: str | None) -> None:
    assert _next_token({"next_page_token": token}, page) == expected


def test_watch_channel_json_and_secret_token() -> None:
    channel = WatchChannel(
        1000000068001,
        ["Leads.all"],
        "https://sync.example.com/n?org=a",
        token="t" * 50,
        channel_expiry=datetime(2025, 7, 10, 16, 47, tzinfo=UTC),
    )
    body = channel.to_json()
    assert body["channel_id"] == "1000000068001"
    assert body["channel_expiry"] == "2025-07-10T16:47:00+00:00"
    assert body["notify_on_related_action"] is False
    assert "t" * 50 not in repr(channel)
    with pytest.raises(ValueError, match="50"):
        WatchChannel(1, ["Leads.all"], "https://x", token="t" * 51)
