"""Pure parsing of webhook and callback bodies into hint batches, and the refusal reasons."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from connectors.ingress.channels import ChannelState, new_channel
from connectors.ingress.hints import MAX_IDS, BadInput, HintBatch
from connectors.ingress.notifications import parse_callback, parse_envelope
from connectors.ingress.webhooks import body_fields, merged, parse_webhook, secret_of
from connectors.kafka.cluster import bootstrap_servers
from orgsync_kernel.events import Hint

SYNCED = frozenset({"Leads", "Contacts"})


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"module":"Leads","id":"1"}', "application/json", HintBatch("Leads", ("1",), "update")),
        (
            b"module=Leads&id=1&id=2&operation=create",
            "application/x-www-form-urlencoded",
            HintBatch("Leads", ("1", "2"), "insert"),
        ),
        (b"module=Leads&ids=3%2C4%2C3", "", HintBatch("Leads", ("3", "4"), "update")),
        (
            b'{"module":"Contacts","ids":[5, "6"],"operation":"DELETE"}',
            "text/plain",
            HintBatch("Contacts", ("5", "6"), "delete"),
        ),
        (
            b'{"module":"Leads","id":7,"modified_time":"2025-01-02T03:04:05+05:30"}',
            "application/json",
            HintBatch("Leads", ("7",), "update", "2025-01-02T03:04:05+05:30"),
        ),
        (
            b'{"module":"Leads","id":"8","modified_time":"Jan 2, 2025 03:04 AM"}',
            "application/json",
            HintBatch("Leads", ("8",), "update", None),
        ),
    ],
)
def test_webhook_bodies(body: bytes, content_type: str, expected: HintBatch) -> None:
    assert parse_webhook(body_fields(body, content_type), SYNCED) == expected


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": ["1"]}, "malformed"),
        ({"module": ["Deals"], "id": ["1"]}, "unknown_module"),
        ({"module": [{"x": 1}], "id": ["1"]}, "malformed"),
        ({"module": ["Leads"]}, "malformed"),
        ({"module": ["Leads"], "id": ["1e3"]}, "bad_id"),
        ({"module": ["Leads"], "id": [True]}, "bad_id"),
        ({"module": ["Leads"], "id": ["-1"]}, "bad_id"),
        ({"module": ["Leads"], "id": ["1" * 20]}, "bad_id"),
        ({"module": ["Leads"], "id": [str(i) for i in range(MAX_IDS + 1)]}, "malformed"),
        ({"module": ["Leads"], "id": ["1"], "operation": ["upsert"]}, "malformed"),
        ({"module": ["Leads", "Contacts"], "id": ["1"]}, "malformed"),
    ],
)
def test_webhook_refusals(fields: dict[str, list[Any]], reason: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_webhook(fields, SYNCED)
    assert (caught.value.reason, caught.value.status) == (reason, 400)


@pytest.mark.parametrize("body", [b"{", b"[1]", b"\xff\xfe", b"a=%zz&&", b'"text"'])
def test_unreadable_webhook_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(BadInput) as caught:
        body_fields(body, "application/json" if body[:1] in b'{["' else "")
    assert caught.value.reason == "malformed"


def test_body_wins_over_query_and_secret_needs_one_string() -> None:
    fields = merged({"module": ["Contacts"], "secret": ["a"]}, {"module": ["Leads"]})
    assert fields["module"] == ["Leads"] and secret_of(fields) == "a"
    assert secret_of({"secret": ["a", "b"]}) is None
    assert secret_of({"secret": [1]}) is None


CALLBACK = {
    "server_time": 1750102639787,
    "module": "Leads",
    "ids": ["1", "2"],
    "operation": "update",
    "channel_id": "1105420521999070702",
    "token": "tok",
}


def test_callback_envelope_and_batch() -> None:
    envelope = parse_envelope(orjson.dumps(CALLBACK))
    assert (envelope.channel_id, envelope.token) == ("1105420521999070702", "tok")
    batch = parse_callback(envelope, SYNCED)
    assert batch == HintBatch("Leads", ("1", "2"), "update", "2025-06-16T19:37:19.787+00:00")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"channel_id": None}, "unauthorized"),
        ({"channel_id": ["1"]}, "unauthorized"),
        ({"module": "Deals"}, "unknown_module"),
        ({"ids": "1"}, "malformed"),
        ({"ids": []}, "malformed"),
        ({"ids": ["1", None]}, "bad_id"),
        ({"operation": "edit "}, "malformed"),
    ],
)
def test_callback_refusals(change: dict[str, Any], reason: str) -> None:
    body = {k: v for k, v in {**CALLBACK, **change}.items() if v is not None}
    with pytest.raises(BadInput) as caught:
        parse_callback(parse_envelope(orjson.dumps(body)), SYNCED)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("operation", "affected", "related"),
    [
        ("update", [{"1": []}, {"2": []}], True),  # a related action: no field of theirs
        ("update", [], True),
        ("update", [{"1": ["Phone"]}, {"2": []}], False),
        ("update", None, False),  # no affected_fields at all: an ordinary update
        ("update", "x", False),
        ("insert", [], False),  # inserts carry [] (Zoho's sample)
        ("delete", [], False),
    ],
)
def test_an_update_naming_no_field_is_a_related_action(
    operation: str, affected: Any, related: bool
) -> None:
    body = {**CALLBACK, "operation": operation, "affected_fields": affected}
    batch = parse_callback(parse_envelope(orjson.dumps(body)), SYNCED)
    assert batch.related is related


@pytest.mark.parametrize("server_time", [True, -5, 10**15, "1750102639787", 1.5])
def test_unusable_server_time_is_left_out(server_time: Any) -> None:
    body = orjson.dumps({**CALLBACK, "server_time": server_time})
    assert parse_callback(parse_envelope(body), SYNCED).event_time is None


def test_one_message_per_id_keyed_org_module_id() -> None:
    batch = HintBatch("Leads", ("1", "2"), "delete", None)
    messages = batch.messages("alpha", "notification", 12.5)
    assert [key for key, _ in messages] == [b"alpha/Leads/1", b"alpha/Leads/2"]
    hint = Hint.loads(messages[1][1])
    assert (hint.id, hint.operation, hint.source, hint.received_at) == (
        "2",
        "delete",
        "notification",
        12.5,
    )


def test_channel_token_fits_zoho_and_stays_out_of_repr() -> None:
    state = new_channel("alpha", "Leads", "https://sync.example.com/notify/alpha")
    assert len(state.token) <= 50 and state.channel_id.isdigit() and len(state.channel_id) == 18
    assert state.token not in repr(state)
    assert ChannelState.from_json(state.to_json()) == state
    assert new_channel("alpha", "Leads", "u").token != state.token


@pytest.mark.parametrize(
    ("broker", "expected"),
    [
        ("kafka://127.0.0.1:9092", "127.0.0.1:9092"),
        ("kafka://a:1;kafka://b:2", "a:1,b:2"),
        ("a:1, b:2", "a:1,b:2"),
    ],
)
def test_bootstrap_servers(broker: str, expected: str) -> None:
    assert bootstrap_servers(broker) == expected
