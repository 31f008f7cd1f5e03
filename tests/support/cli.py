"""Running `orgsync <command>` as a subprocess without blocking the in-process emulator."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def stdout(self) -> str:
        return self.out

    @property
    def stderr(self) -> str:
        return self.err

    def json(self) -> Any:
        return orjson.loads(self.out)


async def orgsync(*args: str | Path, env: dict[str, str], within: float = 60.0) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orgsync.cli",
        *map(str, args),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())
