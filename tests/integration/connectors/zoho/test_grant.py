"""`orgsync auth exchange` logic: grant code → refresh token in a 0600 secrets file."""

from __future__ import annotations

import stat
from pathlib import Path

import aiohttp
import pytest

from connectors.zoho.errors import InvalidCode
from connectors.zoho.grant import default_secret_name, exchange_grant
from tests.support.zoho_client import CLIENT_ID, CLIENT_SECRET, GRANT_CODE, Emu, MakeClient


async def _exchange(
    emu: Emu,
    session: aiohttp.ClientSession,
    path: Path,
    code: str = GRANT_CODE,
    name: str | None = None,
):  # noqa: ANN202
    return await exchange_grant(
        org="alpha",
        dc="in",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        code=code,
        secrets_path=path,
        secret_name=name,
        accounts_url=emu.url,
        api_url=emu.url,
        session=session,
    )


async def test_exchange_writes_a_private_secrets_file_that_works(
    emu: Emu, session: aiohttp.ClientSession, make_client: MakeClient, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("OTHER_SECRET=keep-me\nALPHA_REFRESH_TOKEN=old\n")
    result = await _exchange(emu, session, path)

    assert (result.org, result.secret_name, result.secrets_path) == (
        "alpha",
        "ALPHA_REFRESH_TOKEN",
        path,
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert lines["OTHER_SECRET"] == "keep-me"
    token = lines["ALPHA_REFRESH_TOKEN"]
    assert token.startswith("1000.") and token not in repr(result)

    client = await make_client(refresh_token=token)
    assert await client.users()


async def test_json_secrets_file_is_merged(
    emu: Emu, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"US_REFRESH_TOKEN": "keep"}')
    await _exchange(emu, session, path, name="IN_REFRESH_TOKEN")
    import orjson

    data = orjson.loads(path.read_bytes())
    assert data["US_REFRESH_TOKEN"] == "keep" and data["IN_REFRESH_TOKEN"].startswith("1000.")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_used_grant_says_grants_live_minutes(
    emu: Emu, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await _exchange(emu, session, tmp_path / "a.env")
    with pytest.raises(InvalidCode) as info:
        await _exchange(emu, session, tmp_path / "b.env")
    message = str(info.value)
    assert "minutes" in message and "3 by default" in message and "Generate Code" in message
    assert GRANT_CODE not in message
    assert not (tmp_path / "b.env").exists()


def test_default_secret_name() -> None:
    assert default_secret_name("regional-in") == "REGIONAL_IN_REFRESH_TOKEN"
