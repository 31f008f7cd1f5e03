"""Issue 15 item 3: search is index-based, so a record searched right after it was created or
edited may not be found (204, as Zoho's search page documents); GET by id sees it at once."""

from __future__ import annotations

import aiohttp

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator
from zoho_emulator.config import Behaviour


def test_the_default_index_delay_is_not_zero() -> None:
    assert 1000 <= Behaviour().search_index_delay_ms <= 60_000


async def _search(client: Client, last_name: str) -> tuple[int, list[str]]:
    status, body, _ = await client.call(
        "GET", "/crm/v8/Leads/search", params={"criteria": f"(Last_Name:equals:{last_name})"}
    )
    return status, [r["id"] for r in (body or {}).get("data", [])]


async def test_a_new_record_is_found_only_after_the_index_delay(
    emu: Emulator, alpha: Client
) -> None:
    delay_s = emu.config.behaviour.search_index_delay_ms / 1000
    (lead,) = await alpha.insert("Leads", {"Last_Name": "Fresh"})
    assert await _search(alpha, "Fresh") == (204, [])
    status, body, _ = await alpha.call("GET", f"/crm/v8/Leads/{lead}")
    assert status == 200 and body["data"][0]["Last_Name"] == "Fresh"  # reads are immediate
    emu.state.advance(delay_s + 1)
    assert await _search(alpha, "Fresh") == (200, [lead])


async def test_an_edited_record_drops_out_until_reindexed(emu: Emulator, alpha: Client) -> None:
    delay_s = emu.config.behaviour.search_index_delay_ms / 1000
    (lead,) = await alpha.insert("Leads", {"Last_Name": "Edited"})
    emu.state.advance(delay_s + 1)
    status, _, _ = await alpha.call(
        "PUT", f"/crm/v8/Leads/{lead}", json={"data": [{"Company": "Zylker"}]}
    )
    assert status == 200
    assert await _search(alpha, "Edited") == (204, [])
    emu.state.advance(delay_s + 1)
    assert await _search(alpha, "Edited") == (200, [lead])


async def test_zero_delay_switch_finds_at_once(session: aiohttp.ClientSession) -> None:
    async with Emulator(make_config(behaviour={"search_index_delay_ms": 0})) as emu:
        alpha = await login(session, emu)
        (lead,) = await alpha.insert("Leads", {"Last_Name": "Now"})
        assert await _search(alpha, "Now") == (200, [lead])
