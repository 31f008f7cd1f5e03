"""Helpers for the DLQ tests: run the real CLI, read its JSON, make a target field optional."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from orgsync_kernel.events import DeadLetter
from zoho_emulator import Emulator


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return orjson.loads(self.stdout)


async def orgsync(*args: str, env: dict[str, str], within: float = 60.0) -> Result:
    """The CLI as a subprocess, without blocking the loop (the emulator serves in-process)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orgsync.cli",
        *args,
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


def make_optional(emu: Emulator, org: str, module: str, field: str) -> None:
    """An admin of `org` makes a mandatory field optional (the fix is in the target)."""
    state = emu.state.orgs[org]
    definition = state.modules[module]
    fields = {**definition.fields, field: replace(definition.fields[field], system_mandatory=False)}
    state.modules[module] = replace(definition, fields=fields)
    state._validators.pop(module, None)


def letter(
    route: str,
    stage: str,
    key: str,
    record: dict[str, Any],
    *,
    code: str = "REJECTED",
    message: str = "no mapping for the value",
    failed_at: float | None = None,
) -> DeadLetter:
    return DeadLetter(
        id=uuid.uuid4().hex,
        route=route,
        stage=stage,
        key=key,
        record=record,
        code=code,
        message=message,
        details={},
        attempts=1,
        failed_at=failed_at or time.time(),
    )


async def publish(producer: AIOKafkaProducer, topic: str, *letters: DeadLetter) -> None:
    acks = [await producer.send(topic, key=x.key.encode(), value=x.dumps()) for x in letters]
    await asyncio.gather(*acks)
