"""Helpers for the DLQ tests: run the real CLI, read its JSON, make a target field optional."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from aiokafka import AIOKafkaProducer

from orgsync_kernel.events import DeadLetter, dead_letter
from zoho_emulator import Emulator


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
    made = dead_letter(route, stage, key, record, code, message)
    if failed_at is not None:
        made.failed_at = failed_at
    return made


async def publish(producer: AIOKafkaProducer, topic: str, *letters: DeadLetter) -> None:
    acks = [await producer.send(topic, key=x.key.encode(), value=x.dumps()) for x in letters]
    await asyncio.gather(*acks)
