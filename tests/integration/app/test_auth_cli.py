"""`orgsync auth exchange` against the emulated accounts server, through the real CLI."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orgsync_kernel.config_file import read_secrets_file
from tests.support.cli_check import (
    SRC_GRANT,
    Result,
    assert_no_secret,
    emulator_config,
    run_cli,
    secrets_env,
    write_config,
)
from zoho_emulator import Emulator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(emulator_config(), host="127.0.0.1", port=0) as emu:
        yield emu


async def exchange(
    config: Path, *extra: str, code: str = SRC_GRANT, stdin: str | None = None
) -> Result:
    # The refresh token of src does not exist yet: the exchange creates it.
    env = secrets_env(SRC_REFRESH_TOKEN="")
    return await run_cli(
        "auth",
        "exchange",
        "--config",
        str(config),
        "--org",
        "src",
        "--code",
        code,
        *extra,
        env=env,
        stdin=stdin,
    )


async def test_exchange_stores_a_working_refresh_token(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, emulator.url, kafka_broker, secrets_file="secrets.env")
    secrets = tmp_path / "secrets.env"
    assert not secrets.exists()

    result = await exchange(config)

    assert result.code == 0, result.output
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    token = read_secrets_file(secrets)["SRC_REFRESH_TOKEN"]
    assert token.startswith("1000.")
    assert_no_secret(result, token)
    assert f"as SRC_REFRESH_TOKEN in {secrets}" in result.stdout
    assert "--secrets-file" not in result.stdout  # the config already names the file

    # The stored token is what `orgsync check` then uses (through the config's secrets_file).
    checked = await run_cli("check", "--config", str(config), env=secrets_env(SRC_REFRESH_TOKEN=""))
    assert checked.code == 0, checked.output
    assert " ok " in checked.row("credentials", "src")
    assert_no_secret(checked, token)


async def test_reused_grant_says_grants_live_minutes(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, emulator.url, kafka_broker)
    secrets = tmp_path / "flag.env"
    first = await exchange(config, "--secrets-file", str(secrets))
    assert first.code == 0, first.output
    assert f"Pass --secrets-file {secrets}" in first.stdout
    stored = secrets.read_text()

    again = await exchange(config, "--secrets-file", str(secrets))

    assert again.code == 1
    assert "invalid_code" in again.stderr and "minutes" in again.stderr
    assert "3 by default" in again.stderr and "Generate Code" in again.stderr
    assert secrets.read_text() == stored  # the first token is kept
    assert_no_secret(again, read_secrets_file(secrets)["SRC_REFRESH_TOKEN"])


async def test_failed_exchange_leaves_no_secrets_file(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, emulator.url, kafka_broker, secrets_file="new.env")
    result = await exchange(config, code="-", stdin="1000.expired.grant\n")

    assert result.code == 1 and "minutes" in result.stderr
    assert not (tmp_path / "new.env").exists()


async def test_without_a_secrets_file_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", "127.0.0.1:9")
    result = await exchange(config)

    assert result.code == 2 and "--secrets-file" in result.stderr
