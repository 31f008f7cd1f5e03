"""Issue 15 item 8: the UK data centre (accounts.zoho.uk / www.zohoapis.uk) in the emulator."""

from __future__ import annotations

import aiohttp

from tests.support.emulator import login, make_config
from zoho_emulator import Emulator
from zoho_emulator.dc import DATA_CENTRES


def test_uk_is_a_data_centre() -> None:
    uk = DATA_CENTRES["uk"]
    assert (uk.api_domain, uk.accounts_domain) == (
        "https://www.zohoapis.uk",
        "https://accounts.zoho.uk",
    )


async def test_an_org_in_the_uk_dc_answers_with_its_offset() -> None:
    async with Emulator(make_config(alpha={"dc": "uk"})) as emu, aiohttp.ClientSession() as s:
        assert emu.state.orgs["alpha"].dc.api_domain == "https://www.zohoapis.uk"
        alpha = await login(s, emu)
        status, body, _ = await alpha.call(
            "POST", "/crm/v8/Leads", json={"data": [{"Last_Name": "UK"}]}
        )
        assert status == 201
        assert body["data"][0]["details"]["Created_Time"].endswith("+00:00")
