"""`orgsync check` tells what becomes of money per route, proves the scopes the configuration
needs and names a renamed field (issue 28 items 1, 2 and 7): an IN org (INR) and a US org
(USD), both without multi-currency (Zoho's default), the US token narrowed by the emulator's
`scopes`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.support.cli_check import (
    SRC_CLIENT,
    SRC_REFRESH,
    UNIQUE_TEXT,
    Result,
    assert_no_secret,
    closed_port,
    emulator_config,
    run_cli,
    secrets_env,
    write_config,
)
from zoho_emulator import Emulator

ORIGIN = {"api_name": "Origin_Record_Id", **UNIQUE_TEXT}
DEALS = {"match_field": "Origin_Record_Id", "fields": ["Deal_Name", "Stage", "Amount"]}
PROJECTS = {"match_field": "Origin_Record_Id", "fields": ["Name"]}
# What the US org's grant lacks in the narrowed test: GET /org (home currency) and tags.
NARROW = ["ZohoCRM.modules.ALL", "ZohoCRM.settings.fields.READ", "ZohoCRM.users.READ"]


def config(dst_scopes: list[str] | None) -> dict[str, Any]:
    emulated = emulator_config()
    src, dst = emulated["orgs"]["src"], emulated["orgs"]["dst"]
    src["currency"] = {"home": "INR", "enabled": False}
    src["modules"] = {
        "Projects": {"fields": [{"api_name": "Name", "data_type": "text"}]},
        "Notes": {},
    }
    src["modules"]["Leads"] = {"fields": [{"api_name": "Lead_Src", "data_type": "text"}]}
    dst["modules"] |= {"Deals": {"fields": [ORIGIN]}, "Projects": {"fields": [ORIGIN]}}
    renamed = {"api_name": "Lead_Source_Detail", "data_type": "text", "field_label": "Lead Src"}
    dst["modules"]["Leads"]["fields"].append(renamed)
    if dst_scopes is not None:
        dst["clients"][0]["scopes"] = dst_scopes
    return emulated


@pytest.fixture
async def emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    scopes = getattr(request, "param", None)
    async with Emulator(config(scopes), host="127.0.0.1", port=0) as emu:
        yield emu


async def check(path: Path) -> Result:
    result = await run_cli("check", "--config", str(path), env=secrets_env())
    assert_no_secret(result)
    return result


@pytest.mark.parametrize(
    ("route", "top", "result", "says"),
    [
        (
            {},
            {},
            "warn",
            "INR dead-lettered (currency: reject); currency: convert with "
            'exchange_rates: {"INR/USD": RATE} would convert it',
        ),
        ({"currency": "convert"}, {}, "FAIL", 'add exchange_rates: {"INR/USD": RATE}'),
        ({"currency": "convert"}, {"exchange_rates": {"INR/USD": 0.012}}, "ok", "INR converted"),
    ],
)
async def test_each_route_shows_both_home_currencies_and_what_becomes_of_each_currency(
    emulator: Emulator,
    kafka_broker: str,
    tmp_path: Path,
    route: dict[str, Any],
    top: dict[str, Any],
    result: str,
    says: str,
) -> None:
    path = write_config(tmp_path, emulator.url, kafka_broker, {"Deals": DEALS}, **top)
    if route:
        text = path.read_text().replace(
            "  modules:", f"  currency: {route['currency']}\n  modules:"
        )
        path.write_text(text)
    row = (await check(path)).row("currency", "src->dst")
    assert "src: home INR, multi-currency off; dst: home USD, multi-currency off" in row
    assert f" {result} " in row and says in row, row


async def insert_deal(emulator: Emulator) -> None:
    """One Deal in src, through the API (the attachments probe reads one record's)."""
    form = {"grant_type": "refresh_token", "client_id": SRC_CLIENT[0]}
    form |= {"client_secret": SRC_CLIENT[1], "refresh_token": SRC_REFRESH}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emulator.url}/oauth/v2/token", data=form) as answer:
            token = (await answer.json())["access_token"]
        deal = {"data": [{"Deal_Name": "Mumbai", "Stage": "Qualification"}]}
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        async with http.post(f"{emulator.url}/crm/v8/Deals", json=deal, headers=headers) as done:
            assert done.status == 201, await done.text()


async def test_scopes_are_named_as_zoho_names_them_and_writes_are_not_verifiable(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    await insert_deal(emulator)
    related = {"notes": True, "tags": True, "attachments": True}
    modules = {"Deals": {**DEALS, **related}, "Projects": PROJECTS}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, modules))

    src = result.row("scopes", "src")
    assert " ok " in src, result.output
    for proven in (
        "ZohoCRM.modules.deals.READ",
        "ZohoCRM.modules.custom.READ",  # Projects: every custom module shares it
        "ZohoCRM.modules.notes.READ",
        "ZohoCRM.modules.attachments.READ",
        "ZohoCRM.settings.tags.READ",
        "ZohoCRM.org.READ",
        "ZohoSearch.securesearch.READ + ZohoCRM.settings.layouts.READ",
    ):
        assert proven in src.split("; not")[0], (proven, src)
    assert "not needed: ZohoCRM.settings.currencies.READ (multi-currency off)" in src
    dst = result.row("scopes", "dst")
    assert "not verifiable" in dst and "ZohoCRM.modules.deals.CREATE" in dst
    assert "ZohoCRM.modules.custom.UPDATE" in dst and "ZohoCRM.settings.tags.CREATE" in dst
    assert "ZohoCRM.modules.attachments.CREATE" in dst
    # dst holds no Deal: nothing to read the attachments of, so not verifiable, not proven
    assert "ZohoCRM.modules.attachments.READ (no record in Deals" in dst


@pytest.mark.parametrize("emulator", [NARROW], indirect=True)
async def test_a_token_without_org_read_fails_the_scopes_and_the_currency_rows(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    modules = {"Deals": {**DEALS, "tags": True}}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, modules))

    assert result.code == 1
    dst = result.row("scopes", "dst")
    assert " FAIL " in dst and "missing: " in dst
    missing = dst.split("missing: ")[1].split("; proven")[0]
    assert "ZohoCRM.org.READ (OAUTH_SCOPE_MISMATCH)" in missing
    assert "ZohoCRM.settings.tags.READ (OAUTH_SCOPE_MISMATCH)" in missing
    assert "ZohoCRM.modules.deals.READ" not in missing  # modules.ALL covers it
    currency = result.row("currency", "src->dst")
    assert " FAIL " in currency and "CURRENCY_UNKNOWN" in currency
    assert "the token lacks the scope ZohoCRM.org.READ" in currency


async def test_a_missing_field_names_the_field_that_is_likely_it_renamed(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    leads = {"match_field": "Origin_Record_Id", "fields": ["Last_Name", "Lead_Src", "Nope"]}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, {"Leads": leads}))

    row = result.row("fields", "src->dst/Leads")
    assert " FAIL " in row
    assert (
        "missing in src: Nope; missing in dst: Lead_Src (renamed to Lead_Source_Detail?), Nope"
        in row
    )


async def test_an_unreachable_accounts_server_is_named(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    path = write_config(tmp_path, emulator.url, kafka_broker)
    config = yaml.safe_load(path.read_text())
    host = f"127.0.0.1:{closed_port()}"
    config["orgs"]["dst"]["accounts_url"] = f"http://{host}"
    path.write_text(yaml.safe_dump(config))
    result = await check(path)

    row = result.row("credentials", "dst")
    assert " FAIL " in row and f"accounts server {host} unreachable (" in row, row
    assert " ok " in result.row("credentials", "src")
