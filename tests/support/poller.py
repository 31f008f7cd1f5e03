"""The poller against the in-process emulator, with its cursor store and producer in memory."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from connectors.ingress.metrics import IngressMetrics
from connectors.ingress.poller import Poller
from connectors.zoho import ZohoClient
from orgsync_kernel.events import Hint
from orgsync_kernel.settings import PollerSettings


class Memory:
    """The poller's cursor store and producer, in memory; ``puts`` keeps every cursor saved."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sent: list[tuple[bytes, bytes]] = []
        self.puts: list[tuple[str, Any]] = []

    def get(self, key: str) -> Any:
        return self.values.get(key)

    async def put(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.puts.append((key, value))

    async def send_many(self, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        self.sent += messages

    def hints(self) -> list[Hint]:
        return [Hint.loads(value) for _, value in self.sent]


async def started_poller(
    client: ZohoClient, memory: Memory, *, overlap: float = 3600, start: float = 0.0, **options: Any
) -> Poller:
    """A poller of the org ``org`` (Leads) whose first cursor is ``start`` (1970 by default,
    so every record is after it); its timer is stopped: the test polls."""
    poller = Poller(
        PollerSettings(overlap_seconds=overlap),
        {"org": frozenset({"Leads"})},
        "hints",
        {"org": client},
        memory,  # type: ignore[arg-type]
        memory,  # type: ignore[arg-type]
        IngressMetrics.create(CollectorRegistry()),
        clock=lambda: start,
        **options,
    )
    await poller.start()
    await poller.stop()
    return poller
