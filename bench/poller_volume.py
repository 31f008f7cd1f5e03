"""Does the poller get past a burst of more changes than one listing reaches? (issue 26 item 5)

An in-process emulator (Zoho's page-token cap: 100,000 records, ``--limit`` to change it) gets
``--records`` Leads created, ``--per-second`` in each second of its clock. Then, from a cursor
before them all:

- ``before``: one listing of everything modified since the cursor, as the poller made it
  until issue 26 (the cursor moved only once a listing succeeded): the records it got, its
  calls and credits, and whether it was refused;
- ``after``: the poller's poll (windows of one listing each, the cursor saved as it goes):
  seconds, listing calls, credits, hints, distinct records hinted, cursor saves.

Hints and the cursor stay in memory (no Kafka): what is measured is the Zoho side.

    .venv/bin/python -m bench.poller_volume [--records 120000] [--limit 100000]

Prints the numbers and writes bench/results/poller_volume.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from connectors.ingress.metrics import IngressMetrics
from connectors.ingress.poller import Poller
from connectors.zoho import OrgConnection, ZohoClient, ZohoError
from orgsync_kernel.events import Hint
from orgsync_kernel.settings import PollerSettings
from zoho_emulator import Emulator

RESULTS = Path(__file__).resolve().parent / "results" / "poller_volume.json"
CLIENT = {
    "client_id": "1000.VOLUME",
    "client_secret": "volume-secret-0123456789abcdef",
    "refresh_token": f"1000.{'0' * 31}1.{'f' * 32}",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LISTING = "GET /crm/v8/Leads"


class Memory:
    """The poller's cursor store and producer, kept in memory and counted."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.ids: set[str] = set()
        self.hints = self.saves = 0

    def get(self, key: str) -> Any:
        return self.values.get(key)

    async def put(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.saves += 1

    async def send_many(self, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        self.hints += len(messages)
        self.ids.update(Hint.loads(value).id for _, value in messages)


def _config(limit: int) -> dict[str, Any]:
    client = {
        "client_id": CLIENT["client_id"],
        "client_secret": CLIENT["client_secret"],
        "refresh_tokens": [CLIENT["refresh_token"]],
    }
    org = {"edition": "ultimate", "credits_per_day": 10**9, "clients": [client]}
    return {"orgs": {"alpha": org}, "behaviour": {"page_token_limit": limit}}


class Bench:
    def __init__(self, emulator: Emulator, client: ZohoClient) -> None:
        self.emulator, self.client = emulator, client

    def usage(self) -> tuple[int, int]:
        """(listing calls, credits used) so far."""
        stats = self.emulator.state.orgs["alpha"].stats.as_dict()
        calls = stats["calls"].get(CLIENT["client_id"], {})
        return int(calls.get(LISTING, 0)), int(stats["credits_used"])

    async def create(self, records: int, per_second: int) -> None:
        made = 0
        while made < records:
            second = min(per_second, records - made)
            sizes = [min(100, second - n) for n in range(0, second, 100)]
            for n in range(0, len(sizes), 10):  # ten calls in flight
                await asyncio.gather(*(self._insert(made, size) for size in sizes[n : n + 10]))
            made += second
            self.emulator.state.advance(1)

    async def _insert(self, base: int, size: int) -> None:
        rows = [{"Last_Name": f"Volume {base + n}"} for n in range(size)]
        outcomes = await self.client.insert("Leads", rows, trigger=[])
        assert all(o.ok for o in outcomes), outcomes[:1]

    async def before(self) -> dict[str, Any]:
        """The listing the poller made until issue 26: everything since the cursor at once."""
        calls, credits = self.usage()
        started, listed, refused = time.perf_counter(), 0, None
        try:
            async for _ in self.client.list_modified_since("Leads", EPOCH, ("Modified_Time",)):
                listed += 1
        except ZohoError as error:
            refused = error.code
        return self._figures(started, calls, credits, listed=listed, refused=refused)

    async def after(self) -> dict[str, Any]:
        memory = Memory()
        poller = Poller(
            PollerSettings(overlap_seconds=60),
            {"alpha": frozenset({"Leads"})},
            "hints",
            {"alpha": self.client},
            memory,  # type: ignore[arg-type]
            memory,  # type: ignore[arg-type]
            IngressMetrics.create(CollectorRegistry()),
            clock=lambda: 0.0,  # the first cursor: 1970, before every record
            deletes={},
        )
        await poller.start()
        await poller.stop()  # no timer: one poll, measured
        calls, credits = self.usage()
        started = time.perf_counter()
        await poller.poll_once("alpha", "Leads")
        return self._figures(
            started,
            calls,
            credits,
            hints=memory.hints,
            records_hinted=len(memory.ids),
            cursor_saves=memory.saves - 1,  # the first cursor, saved at start, not counted
            cursor=memory.values["poll/alpha/Leads"]["modified"],
        )

    def _figures(self, started: float, calls: int, credits: int, **more: Any) -> dict[str, Any]:
        now_calls, now_credits = self.usage()
        seconds = round(time.perf_counter() - started, 2)
        figures = {"seconds": seconds, "calls": now_calls - calls}
        return {**figures, "credits": now_credits - credits, **more}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with Emulator(_config(args.limit)) as emulator, aiohttp.ClientSession() as session:
        conn = OrgConnection(
            name="alpha",
            dc="us",
            edition="ultimate",
            accounts_url=emulator.url,
            api_url=emulator.url,
            daily_credit_budget=10**9,
            **CLIENT,
        )
        client = ZohoClient(conn, session=session)
        await client.start()
        try:
            bench = Bench(emulator, client)
            started = time.perf_counter()
            await bench.create(args.records, args.per_second)
            created = round(time.perf_counter() - started, 1)
            return {
                "records": args.records,
                "page_token_limit": args.limit,
                "per_second": args.per_second,
                "create_seconds": created,
                "before": await bench.before(),
                "after": await bench.after(),
                "machine": platform.platform(),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        finally:
            await client.stop()


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=120_000)
    parser.add_argument("--limit", type=int, default=100_000, help="the page-token cap")
    parser.add_argument("--per-second", type=int, default=2_000)
    return parser.parse_args()


if __name__ == "__main__":
    result = asyncio.run(main(_args()))
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
