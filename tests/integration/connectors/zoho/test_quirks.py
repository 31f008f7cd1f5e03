"""Zoho's production quirks (issue 27 item 5) against the emulator's switchable faults: the
client retries a 200 whose JSON is empty or cut short, and names a field COQL refuses."""

from __future__ import annotations

import pytest

from connectors.zoho import WatchChannel, errors
from tests.support.zoho_client import Emu, MakeClient, fast_backoff, lead


@pytest.mark.parametrize("kind", ["truncated", "empty"])
async def test_a_broken_200_of_a_single_record_get_is_retried(
    emu: Emu, make_client: MakeClient, kind: str
) -> None:
    client = await make_client()
    [outcome] = await client.insert("Leads", [lead(1)])
    await emu.faults(broken_bodies=2, broken_body=kind)
    record = await client.get_record("Leads", str(outcome.id))
    assert record is not None and record["id"] == str(outcome.id)
    assert await emu.calls(f"GET /crm/v8/Leads/{outcome.id}") == 3


async def test_a_broken_200_of_the_notification_api_is_retried(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client()
    channel = WatchChannel(42, ("Leads.all",), "http://127.0.0.1:9/n", token="t")
    await client.watch_subscribe([channel])
    await emu.faults(broken_bodies=1, broken_body="empty")
    [listed] = await client.watch_get()
    assert str(listed["channel_id"]) == "42"


async def test_a_body_that_stays_broken_is_an_error_not_an_empty_answer(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client(backoff=fast_backoff(max_attempts=2))
    [outcome] = await client.insert("Leads", [lead(1)])
    await emu.faults(broken_body_rate=1.0)
    with pytest.raises(errors.TruncatedBody, match="truncated JSON body"):
        await client.get_record("Leads", str(outcome.id))


async def test_a_hidden_field_in_a_query_is_named(emu: Emu, make_client: MakeClient) -> None:
    client = await make_client()
    await emu.faults(hidden_fields={"Leads": ["Origin_Record_Id"]})
    with pytest.raises(errors.InvalidQuery) as refused:
        await client.query("select id from Leads where Origin_Record_Id = 'src-1'")
    assert "Leads.Origin_Record_Id" in str(refused.value)
    assert "hidden from the API user" in str(refused.value)
    assert not refused.value.retryable
