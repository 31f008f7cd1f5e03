"""Logs never carry tokens or secrets; metrics land in the injected registry."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from connectors.zoho.errors import InvalidClientSecret, ZohoError
from tests.support.zoho_client import (
    CLIENT_SECRET,
    REFRESH_TOKEN,
    Emu,
    MakeClient,
    fast_backoff,
    lead,
)


async def test_no_token_or_secret_in_logs(
    emu: Emu, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(backoff=fast_backoff(max_attempts=10))
    tokens_seen: set[str] = set()
    outcomes = await client.upsert("Leads", [lead(1), {"Email": "x@example.com"}], None, [])
    tokens_seen.add(client.tokens.current.value)  # type: ignore[union-attr]
    await emu.faults(revoke_tokens=True)
    await client.get_by_ids("Leads", [outcomes[0].id], ["Email"])  # type: ignore[list-item]
    tokens_seen.add(client.tokens.current.value)  # type: ignore[union-attr]
    await emu.faults(error_rate=0.5, error_status=500, throttle_rate=0.3)
    await client.fields("Leads")
    await emu.faults(clear=True)
    errors: list[ZohoError] = []
    try:
        await client.get_by_ids("NoSuchModule", ["1"], ["Email"])
    except ZohoError as exc:
        errors.append(exc)
    bad = await make_client(client_secret="another-secret-value")
    with pytest.raises(InvalidClientSecret) as info:
        await bad.users()
    errors.append(info.value)

    assert len(tokens_seen) == 2
    secrets = [*tokens_seen, REFRESH_TOKEN, CLIENT_SECRET, "another-secret-value"]
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    text += "".join(str(e) + repr(e) for e in errors) + repr(client.connection)
    assert "zoho call" in caplog.text  # the client did log at DEBUG
    for secret in secrets:
        assert secret not in text
        for part in secret.split("."):  # not even a piece of a token
            if len(part) >= 16:
                assert part not in text


async def test_metrics_in_the_injected_registry(emu: Emu, make_client: MakeClient) -> None:
    registry = CollectorRegistry()
    client = await make_client(registry=registry)
    await client.upsert("Leads", [lead(n) for n in range(25)], ["Origin_Record_Id"], [])
    await emu.faults(throttle_rate=1.0)
    with pytest.raises(ZohoError):
        await client.fields("Leads")

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"org": "alpha", **labels})

    assert value("orgsync_zoho_calls_total", kind="records.write", outcome="ok") == 1
    assert value("orgsync_zoho_credits_total", kind="records.write") == 3
    assert value("orgsync_zoho_throttled_total", kind="metadata") == 6
    assert value("orgsync_zoho_token_refreshes_total", outcome="ok") == 1
    assert (value("orgsync_zoho_token_refresh_timestamp_seconds", outcome="ok") or 0) > 0
    assert value("orgsync_zoho_call_latency_seconds_count", kind="records.write") == 1
