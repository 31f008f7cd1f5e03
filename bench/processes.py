"""Subprocesses of the benchmark: the emulator and `orgsync run`, with their logs in files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from .procstat import TreeSampler

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on (http://\S+)")


class Child:
    """A subprocess whose stdout+stderr go to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:  # a local file; the child keeps its own fd
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=log, stderr=log, env=self.env, cwd=ROOT
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, within: float = 30.0) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class EmulatorProcess(Child):
    """`python -m zoho_emulator --config FILE --port 0`; ``url`` once it listens."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        super().__init__(
            [sys.executable, "-m", "zoho_emulator", "--config", str(config_path), "--port", "0"],
            log_path,
        )
        self.url = ""

    async def start(self, within: float = 20.0) -> None:
        await super().start()
        deadline = time.monotonic() + within
        while not self.url:
            found = LISTENING.search(self.tail(10_000))
            if found:
                self.url = found.group(1)
            elif not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start:\n{self.tail()}")
            else:
                await asyncio.sleep(0.05)


class Admin:
    """The emulator's unmetered /__emulator/ API."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else orjson.dumps(body)
        async with self.session.request(method, self.url + path, data=data) as response:
            response.raise_for_status()
            return orjson.loads(await response.read())

    async def stats(self) -> dict[str, Any]:
        found: dict[str, Any] = await self._json("GET", "/__emulator/stats")
        return found

    async def log(self, org: str, since_ms: int = 0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._json(
            "GET", f"/__emulator/orgs/{org}/log?since_ms={since_ms}"
        )
        return found

    async def records(self, org: str, module: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every stored record of ``module``: ``id`` and ``fields`` (unmetered, any size)."""
        path = f"/__emulator/orgs/{org}/records/{module}?fields={','.join(fields)}"
        found: list[dict[str, Any]] = await self._json("GET", path)
        return found

    async def reset(self) -> None:
        await self._json("POST", "/__emulator/reset", {})


class OrgsyncProcess(Child):
    """`orgsync run --config FILE` (role all), sampled for peak RSS and CPU seconds."""

    def __init__(self, config_path: Path, log_path: Path, env: dict[str, str]) -> None:
        super().__init__(
            [
                sys.executable,
                "-m",
                "orgsync.cli",
                "run",
                "--config",
                str(config_path),
                "--log-level",
                "warning",
            ],
            log_path,
            env,
        )
        self.sampler: TreeSampler | None = None
        self._sampling: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self.sampler = TreeSampler(self.pid)
        self._sampling = asyncio.create_task(self._sample_every(0.25))

    async def _sample_every(self, seconds: float) -> None:
        assert self.sampler is not None
        while self.alive():
            self.sampler.sample()
            await asyncio.sleep(seconds)

    async def stop(self, within: float = 30.0) -> int | None:
        if self.sampler is not None and self.alive():
            self.sampler.sample()  # the last CPU total while the whole tree is still there
        if self._sampling is not None:
            self._sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampling
        return await super().stop(within)
