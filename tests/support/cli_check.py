"""Helpers for the `orgsync check` / `orgsync auth` tests: two emulated orgs and the real CLI.

The emulator runs in-process (a real HTTP server on 127.0.0.1, port 0); the CLI runs as a
subprocess through the installed `orgsync` entry point, with secrets only in its environment.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SRC_CLIENT = ("1000.SRCCLIENTIN", "src-client-secret-0123456789abcdef")
DST_CLIENT = ("1000.DSTCLIENTUS", "dst-client-secret-fedcba9876543210")
SRC_REFRESH = "1000.5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a.srcsrcsrcsrcsrcsrcsrcsrcsrcsrcsr"
DST_REFRESH = "1000.d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5.dstdstdstdstdstdstdstdstdstdstds"
SRC_GRANT = "1000.grantgrantgrantgrantgrantgrant.srcgrantsrcgrantsrcgrantsrcgrant"
WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789"
SECRETS = (SRC_CLIENT[1], DST_CLIENT[1], SRC_REFRESH, DST_REFRESH, SRC_GRANT, WEBHOOK_SECRET)
UNIQUE_TEXT = {"data_type": "text", "unique": True}


def emulator_config() -> dict[str, Any]:
    def client(pair: tuple[str, str], refresh: str, grants: list[str]) -> dict[str, Any]:
        return {
            "client_id": pair[0],
            "client_secret": pair[1],
            "refresh_tokens": [refresh],
            "grant_codes": grants,
        }

    return {
        "orgs": {
            "src": {
                "dc": "in",
                "edition": "enterprise",
                "users": [{"email": "admin@src.example", "name": "Src Admin"}],
                "clients": [client(SRC_CLIENT, SRC_REFRESH, [SRC_GRANT])],
            },
            "dst": {
                "dc": "us",
                "edition": "enterprise",
                "users": [
                    {"email": "admin@dst.example", "name": "Dst Admin"},
                    {"email": "sales@dst.example", "name": "Dst Sales", "role": "Standard"},
                ],
                "clients": [client(DST_CLIENT, DST_REFRESH, [])],
                "modules": {
                    "Leads": {
                        "fields": [
                            {"api_name": "Origin_Record_Id", **UNIQUE_TEXT},
                            {"api_name": "Plain_Text", "data_type": "text"},
                        ]
                    }
                },
            },
        }
    }


GOOD_LEADS: dict[str, Any] = {
    "match_field": "Origin_Record_Id",
    "fields": ["Last_Name", "Email", "Company"],
    "owner": {"match": "email", "default": "sales@dst.example"},
}


def write_config(
    folder: Path,
    emulator_url: str,
    broker: str,
    modules: dict[str, Any] | None = None,
    **top: Any,
) -> Path:
    def org(dc: str, prefix: str, client_id: str) -> dict[str, Any]:
        return {
            "dc": dc,
            "edition": "enterprise",
            "client_id": client_id,
            "client_secret": f"${{{prefix}_CLIENT_SECRET}}",
            "refresh_token": f"${{{prefix}_REFRESH_TOKEN}}",
            "api_url": emulator_url,
            "accounts_url": emulator_url,
        }

    config = {
        "kafka": {"broker": broker},
        "ingress": {"listen": "127.0.0.1:0", "webhook_secret": "${WEBHOOK_SECRET}"},
        "orgs": {"src": org("in", "SRC", SRC_CLIENT[0]), "dst": org("us", "DST", DST_CLIENT[0])},
        "sync": [{"source": "src", "target": "dst", "modules": modules or {"Leads": GOOD_LEADS}}],
        **top,
    }
    path = folder / "orgsync.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def secrets_env(**overrides: str) -> dict[str, str]:
    """The environment of the CLI: PATH (and PYTHONPATH, so that a checkout other than the
    installed one runs its own code) plus the secrets (a value of "" leaves one out)."""
    env = {
        "SRC_CLIENT_SECRET": SRC_CLIENT[1],
        "DST_CLIENT_SECRET": DST_CLIENT[1],
        "SRC_REFRESH_TOKEN": SRC_REFRESH,
        "DST_REFRESH_TOKEN": DST_REFRESH,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        **overrides,
    }
    paths = {k: os.environ[k] for k in ("PATH", "PYTHONPATH") if k in os.environ}
    return {**paths, **{k: v for k, v in env.items() if v}}


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def row(self, check: str, subject: str) -> str:
        """The one table line of `check` for `subject` (exact subject column)."""
        found = [ln for ln in self.stdout.splitlines() if ln.split()[:2] == [check, subject]]
        assert len(found) == 1, f"no single {check} row for {subject} in:\n{self.output}"
        return found[0]


def orgsync_command() -> list[str]:
    script = Path(sys.executable).parent / "orgsync"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orgsync.cli"]


async def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, deadline_s: float = 60.0
) -> Result:
    """Run the CLI without blocking the loop (the in-process emulator must keep serving)."""
    process = await asyncio.create_subprocess_exec(
        *orgsync_command(),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), deadline_s
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def closed_port() -> int:
    """A local TCP port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_no_secret(result: Result, *extra: str) -> None:
    for secret in (*SECRETS, *extra):
        assert secret not in result.output, "a secret reached the output"
