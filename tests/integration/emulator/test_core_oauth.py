"""OAuth of the emulator: token endpoint answers, limits, expiry, revoke, org binding."""

from __future__ import annotations

import re

import aiohttp

from tests.support.emulator import ALPHA_REFRESH, Client, login, token_call
from zoho_emulator import Emulator

TOKEN = re.compile(r"^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$")
ALPHA = {"client_id": "1000.ALPHACLIENT", "client_secret": "alpha-secret"}


async def test_refresh_grant_answers_documented_fields(emu: Emulator, session) -> None:
    status, body = await token_call(
        session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
    )
    assert status == 200
    assert set(body) == {"access_token", "api_domain", "token_type", "expires_in"}
    assert TOKEN.match(body["access_token"])
    assert body["api_domain"] == emu.url
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600


async def test_params_in_query_string_are_accepted(emu: Emulator, session) -> None:
    params = {"grant_type": "refresh_token", "refresh_token": ALPHA_REFRESH, **ALPHA}
    async with session.post(emu.url + "/oauth/v2/token", params=params) as r:
        body = await r.json(content_type=None)
    assert r.status == 200 and "access_token" in body


async def test_grant_code_is_single_use(emu: Emulator, session) -> None:
    status, body = await token_call(
        session, emu, grant_type="authorization_code", code="1000.grant.alpha", **ALPHA
    )
    assert status == 200
    assert TOKEN.match(body["refresh_token"]) and TOKEN.match(body["access_token"])
    status, again = await token_call(
        session, emu, grant_type="authorization_code", code="1000.grant.alpha", **ALPHA
    )
    assert (status, again) == (200, {"error": "invalid_code"})


async def test_grant_code_expires(emu: Emulator, session) -> None:
    emu.state.advance(181)
    status, body = await token_call(
        session, emu, grant_type="authorization_code", code="1000.grant.alpha", **ALPHA
    )
    assert (status, body) == (200, {"error": "invalid_code"})


async def test_token_errors_come_with_http_200(emu: Emulator, session) -> None:
    cases = [
        (
            {"client_id": "1000.NOPE", "client_secret": "x", "refresh_token": ALPHA_REFRESH},
            "invalid_client",
        ),
        (
            {
                "client_id": "1000.ALPHACLIENT",
                "client_secret": "wrong",
                "refresh_token": ALPHA_REFRESH,
            },
            "invalid_client_secret",
        ),
        ({**ALPHA, "refresh_token": "1000." + "0" * 32 + "." + "0" * 32}, "invalid_code"),
    ]
    for params, error in cases:
        status, body = await token_call(session, emu, grant_type="refresh_token", **params)
        assert (status, body) == (200, {"error": error})


async def test_eleventh_refresh_in_ten_minutes_is_access_denied(emu: Emulator, session) -> None:
    for _ in range(10):
        status, body = await token_call(
            session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
        )
        assert "access_token" in body
    status, body = await token_call(
        session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
    )
    assert status == 200
    assert body == {
        "error_description": "You have made too many requests continuously. "
        "Please try again after some time.",
        "error": "Access Denied",
        "status": "failure",
    }
    emu.state.advance(601)
    status, body = await token_call(
        session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
    )
    assert "access_token" in body


async def test_access_token_expires(emu: Emulator, alpha: Client) -> None:
    assert (await alpha.call("GET", "/crm/v8/org"))[0] == 200
    emu.state.advance(3601)
    status, body, _ = await alpha.call("GET", "/crm/v8/org")
    assert status == 401
    assert body == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }


async def test_sixteenth_live_token_invalidates_the_oldest(emu: Emulator, session) -> None:
    first = await login(session, emu)
    emu.state.advance(601)  # stay under the refresh rate limit
    for _ in range(15):
        await login(session, emu)
        emu.state.advance(61)
    status, body, _ = await first.call("GET", "/crm/v8/org")
    assert (status, body["code"]) == (401, "INVALID_OAUTHTOKEN")


async def test_revoke_invalidates_refresh_and_access_tokens(
    emu: Emulator, session, alpha: Client
) -> None:
    async with session.post(
        emu.url + "/oauth/v2/token/revoke", params={"token": ALPHA_REFRESH}
    ) as r:
        assert (r.status, await r.json(content_type=None)) == (200, {"status": "success"})
    assert (await alpha.call("GET", "/crm/v8/org"))[0] == 401
    status, body = await token_call(
        session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
    )
    assert body == {"error": "invalid_code"}
    async with session.post(
        emu.url + "/oauth/v2/token/revoke", params={"token": ALPHA_REFRESH}
    ) as r:
        assert r.status == 400


async def test_missing_or_malformed_authorization(emu: Emulator, session, alpha: Client) -> None:
    async with session.get(emu.url + "/crm/v8/org") as r:
        body = await r.json(content_type=None)
        assert (r.status, body["code"]) == (401, "AUTHENTICATION_FAILURE")
    headers = {"Authorization": f"Bearer {alpha.token}"}
    async with session.get(emu.url + "/crm/v8/org", headers=headers) as r:
        body = await r.json(content_type=None)
        assert (r.status, body["code"]) == (401, "INVALID_TOKEN")


async def test_token_decides_the_org(alpha: Client, beta: Client) -> None:
    (lead_id,) = await alpha.insert("Leads", {"Last_Name": "Only in alpha"})
    assert (await alpha.call("GET", f"/crm/v8/Leads/{lead_id}"))[0] == 200
    assert (await beta.call("GET", f"/crm/v8/Leads/{lead_id}"))[0] == 204
    _, org_a, _ = await alpha.call("GET", "/crm/v8/org")
    _, org_b, _ = await beta.call("GET", "/crm/v8/org")
    assert org_a["org"][0]["zgid"] != org_b["org"][0]["zgid"]
    assert lead_id[:7] != org_b["org"][0]["id"][:7]


async def test_unused_session_type_hint(session: aiohttp.ClientSession) -> None:
    assert not session.closed


async def test_refresh_limit_counts_per_refresh_token(emu: Emulator, session) -> None:
    for _ in range(10):
        _, body = await token_call(
            session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
        )
        assert "access_token" in body
    _, denied = await token_call(
        session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
    )
    assert denied["error"] == "Access Denied"
    _, granted = await token_call(
        session, emu, grant_type="authorization_code", code="1000.grant.alpha", **ALPHA
    )
    status, body = await token_call(
        session, emu, grant_type="refresh_token", refresh_token=granted["refresh_token"], **ALPHA
    )
    assert status == 200 and "access_token" in body  # another refresh token: its own window
    status, denied = await token_call(
        session, emu, grant_type="refresh_token", refresh_token=ALPHA_REFRESH, **ALPHA
    )
    assert (status, denied["error"], denied["status"]) == (200, "Access Denied", "failure")
    assert emu.state.orgs["alpha"].stats.token_refreshes["1000.ALPHACLIENT"] == 11
