"""429 storms and 5xx: ridden out within the backoff policy's attempt bound."""

from __future__ import annotations

import asyncio

import pytest

from connectors.zoho.errors import InternalError, RetryableError, TooManyRequests
from tests.support.zoho_client import Emu, MakeClient, fast_backoff, lead


async def _seed(make_client: MakeClient, n: int = 20) -> list[str]:
    writer = await make_client()
    outcomes = await writer.upsert("Leads", [lead(i) for i in range(n)], ["Origin_Record_Id"], [])
    return [o.id for o in outcomes if o.id]


@pytest.mark.parametrize(
    "faults",
    [{"throttle_rate": 0.5}, {"error_rate": 0.2, "error_status": 500}],
    ids=["429-storm", "20pct-5xx"],
)
async def test_every_call_eventually_succeeds(
    emu: Emu, make_client: MakeClient, faults: dict[str, object]
) -> None:
    ids = await _seed(make_client)
    client = await make_client(backoff=fast_backoff(max_attempts=25))
    before = await emu.calls()
    await emu.faults(**faults)

    results = await asyncio.gather(
        *(client.get_by_ids("Leads", [ids[i % len(ids)]], ["Email"]) for i in range(200))
    )

    assert all(len(r) == 1 for r in results)
    sent = await emu.calls() - before
    assert sent == client._transport.attempts  # every attempt is visible at the server
    assert 200 < sent <= 200 * 25
    stats = await emu.stats()
    if "throttle_rate" in faults:
        assert stats["throttled"] > 0


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"throttle_rate": 1.0}, TooManyRequests),
        ({"error_rate": 1.0, "error_status": 500}, InternalError),
    ],
)
async def test_attempts_stop_at_the_bound(
    emu: Emu, make_client: MakeClient, faults: dict[str, object], error: type[Exception]
) -> None:
    client = await make_client(backoff=fast_backoff(max_attempts=4))
    await client.users()  # token first, so only API attempts are counted below
    before = await emu.calls()
    await emu.faults(**faults)
    with pytest.raises(error) as info:
        await client.get_by_ids("Leads", ["1"], ["Email"])
    assert isinstance(info.value, RetryableError)
    assert await emu.calls() - before == 4


async def test_insert_is_not_retried_after_a_server_error(
    emu: Emu, make_client: MakeClient
) -> None:
    client = await make_client(backoff=fast_backoff(max_attempts=4))
    await client.users()
    before = await emu.calls()
    await emu.faults(error_rate=1.0, error_status=500)
    with pytest.raises(InternalError):
        await client.insert("Leads", [lead(1)], trigger=[])
    assert await emu.calls() - before == 1  # the sink decides; a blind retry could duplicate
