"""`python -m zoho_emulator`: one `listening on` line, serves, stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.emulator import make_config


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_cli_serves_and_stops(tmp_path: Path, sig: signal.Signals) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text(json.dumps(make_config()))  # JSON is YAML
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zoho_emulator",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode().strip()
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))", line)
        assert match, line
        async with aiohttp.ClientSession() as session:
            async with session.get(match.group(1) + "/__emulator/stats") as r:
                assert r.status == 200
        proc.send_signal(sig)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert (await proc.stderr.read()) == b""
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
