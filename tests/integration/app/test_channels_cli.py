"""`orgsync channels list|renew` against the emulated source org (never printing a token)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bench.deployment import SECRET, worker_env, write_config
from tests.support.cli import orgsync
from tests.support.pipeline import client
from zoho_emulator import Emulator

ROUTE = {
    "source": "src",
    "target": "tgt",
    "modules": {
        "Accounts": {"match_field": "Origin_Record_Id"},
        "Contacts": {"match_field": "Origin_Record_Id"},
    },
}


async def test_renew_creates_our_channels_and_list_shows_them_without_tokens(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    ingress = {
        "listen": "127.0.0.1:0",
        "public_url": "https://sync.example.com",
        "webhook_secret": "${HOOK_SECRET}",
    }
    config = write_config(
        tmp_path / "orgsync.yaml",
        emu.url,
        kafka_broker,
        unique_name,
        ("src", "tgt"),
        [ROUTE],
        ingress=ingress,
    )
    env = worker_env(("src", "tgt"))

    before = await orgsync("channels", "list", "--config", str(config), env=env)
    assert before.code == 1, before.stderr  # nothing subscribed yet
    assert [ln.split()[:3] for ln in before.stdout.splitlines()[1:]] == [
        ["src", "Accounts", "missing"],
        ["src", "Contacts", "missing"],
    ]

    renewed = await orgsync("channels", "renew", "--config", str(config), env=env)
    assert renewed.code == 0, renewed.stdout + renewed.stderr
    listed = await client(emu, "src", session)
    channels = await listed.watch_get()
    assert {c["resource_name"] for c in channels} == {"Accounts", "Contacts"}

    after = await orgsync("channels", "list", "--config", str(config), env=env)
    assert after.code == 0, after.stdout + after.stderr
    for channel in channels:
        row = next(ln for ln in after.stdout.splitlines() if str(channel["channel_id"]) in ln)
        assert row.split()[0] == "src" and row.endswith("ours")
        assert "https://sync.example.com/notify/src" in row
        assert channel["token"] not in after.stdout + renewed.stdout
    assert SECRET not in after.stdout + after.stderr + renewed.stdout + renewed.stderr
    listed_json = await orgsync(
        "channels", "list", "--config", str(config), "--format", "json", env=env
    )
    assert listed_json.code == 0
    assert {(r["module"], r["status"]) for r in listed_json.json()} == {
        ("Accounts", "ours"),
        ("Contacts", "ours"),
    }
