"""How fast is the emulator? Small API calls/s and records/s in 100-record upserts.

The emulator runs in this process (latency 0, one event loop, as tests use it); the load
comes from a separate process so the client's own work does not eat the server's CPU.
Calls go over keep-alive connections, spread over two OAuth clients (Zoho's concurrency
limit is per client here: ``concurrency_scope: client``, ultimate edition = 25 each;
writes of more than 10 records also hold one of 10 sub-concurrency slots per client).

The ``*_notify`` phases repeat the upserts with a Notification API channel watching Leads
(create and edit); its callbacks go to a receiver in the load process, which checks that one
callback arrives per upsert call.

    .venv/bin/python bench/emulator_speed.py [--seconds 4] [--concurrency 50] [--profile]

Prints one line per phase and writes bench/results/emulator_speed.json. Targets (issue 3):
>= 1,000 small calls/s and >= 20,000 records/s in 100-record upserts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import os
import platform
import pstats
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoho_emulator import Emulator, load_config  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "emulator_speed.json"
TARGETS = {"small_calls_per_s": 1_000, "upsert_records_per_s": 20_000}
CLIENTS = [
    {
        "client_id": f"1000.BENCH{i}",
        "client_secret": f"bench-secret-{i}",
        "refresh_tokens": [f"1000.{i:032x}.{i + 1:032x}"],
    }
    for i in range(2)
]
PER_CLIENT_LIMIT = 25  # ultimate edition
SUB_LIMIT = 10


@dataclass
class Phase:
    """What one load phase sends: GET by id, or 100-record upserts."""

    kind: str  # "get" | "upsert"
    url: str
    tokens: list[str]
    per_client: int
    seconds: float
    ids: list[str] = field(default_factory=list)
    email_offset: int = 0
    notify: bool = False  # watch Leads with a channel whose callbacks the load process receives


@dataclass
class Outcome:
    calls: int
    records: int
    seconds: float
    statuses: dict[int, int]
    latencies_ms: list[float]
    callbacks: int | None = None  # notification callbacks received (notify phases)
    server_cpu_s: float = 0.0  # CPU the emulator's process used meanwhile (≈ seconds: saturated)
    client_cpu_s: float = 0.0  # CPU of the load process (≈ seconds: the load is the limit)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms) or [0.0]
        return {
            "calls": self.calls,
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "calls_per_s": round(self.calls / self.seconds, 1),
            "records_per_s": round(self.records / self.seconds, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0], 2),
            "server_cpu_s": round(self.server_cpu_s, 3),
            "client_cpu_s": round(self.client_cpu_s, 3),
            **({} if self.callbacks is None else {"callbacks": self.callbacks}),
        }


def _config() -> Any:
    org = {"edition": "ultimate", "latency_ms": 0, "credits_per_day": 10**9, "clients": CLIENTS}
    return load_config({"behaviour": {"concurrency_scope": "client"}, "orgs": {"bench": org}})


def _records(worker: int, start: int, offset: int) -> list[dict[str, Any]]:
    return [
        {
            "Last_Name": f"Bench {n}",
            "Company": "Speed Ltd",
            "Email": f"w{worker}-{n + offset}@bench.example",
        }
        for n in range(start, start + 100)
    ]


async def _get_loop(
    session: aiohttp.ClientSession, phase: Phase, token: str, out: Outcome, deadline: float
) -> None:
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    rnd = random.Random()
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        async with session.get(
            f"{phase.url}/crm/v8/Leads/{rnd.choice(phase.ids)}", headers=headers
        ) as r:
            await r.read()
        out.latencies_ms.append((time.perf_counter() - started) * 1000)
        out.statuses[r.status] = out.statuses.get(r.status, 0) + 1
        out.calls += 1


async def _upsert_loop(
    session: aiohttp.ClientSession,
    phase: Phase,
    token: str,
    worker: int,
    out: Outcome,
    deadline: float,
) -> None:
    headers = {"Authorization": f"Zoho-oauthtoken {token}", "Content-Type": "application/json"}
    sent = 0
    while time.perf_counter() < deadline:
        body = orjson.dumps(
            {
                "data": _records(worker, sent, phase.email_offset),
                "trigger": [],
                "duplicate_check_fields": ["Email"],
            }
        )
        started = time.perf_counter()
        async with session.post(
            f"{phase.url}/crm/v8/Leads/upsert", data=body, headers=headers
        ) as r:
            await r.read()
        out.latencies_ms.append((time.perf_counter() - started) * 1000)
        out.statuses[r.status] = out.statuses.get(r.status, 0) + 1
        out.calls += 1
        out.records += 100 if r.status in (200, 201) else 0
        sent += 100


class Receiver:
    """Counts notification callbacks; subscribes/disables the channel over the Zoho API."""

    CHANNEL = "1000000099001"

    def __init__(self) -> None:
        self.count = 0
        self.arrived = asyncio.Event()
        self.runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        self.arrived.set()
        return web.Response(status=200)

    async def start(self, session: aiohttp.ClientSession, phase: Phase) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        watch = {
            "watch": [
                {
                    "channel_id": self.CHANNEL,
                    "events": ["Leads.create", "Leads.edit"],
                    "notify_url": f"http://127.0.0.1:{port}/hooks",
                    "token": "bench",
                }
            ]
        }
        async with session.post(
            f"{phase.url}/crm/v8/actions/watch", json=watch, headers=_auth(phase.tokens[0])
        ) as r:
            assert r.status == 201, await r.text()

    async def stop(self, session: aiohttp.ClientSession, phase: Phase, expected: int) -> int:
        try:
            async with asyncio.timeout(10):
                while self.count < expected:
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            pass  # reported: callbacks < calls
        async with session.delete(
            f"{phase.url}/crm/v8/actions/watch",
            params={"channel_ids": self.CHANNEL},
            headers=_auth(phase.tokens[0]),
        ) as r:
            assert r.status == 200, await r.text()
        if self.runner is not None:
            await self.runner.cleanup()
        return self.count


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {token}"}


async def _load(phase: Phase) -> Outcome:
    out = Outcome(0, 0, 0.0, {}, [])
    cpu = time.process_time()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        receiver = Receiver() if phase.notify else None
        if receiver is not None:
            await receiver.start(session, phase)
        begin = time.perf_counter()
        deadline = begin + phase.seconds
        tasks = []
        for c, token in enumerate(phase.tokens):
            for w in range(phase.per_client):
                worker = c * 1000 + w
                if phase.kind == "get":
                    tasks.append(_get_loop(session, phase, token, out, deadline))
                else:
                    tasks.append(_upsert_loop(session, phase, token, worker, out, deadline))
        await asyncio.gather(*tasks)
        out.seconds = time.perf_counter() - begin
        if receiver is not None:
            out.callbacks = await receiver.stop(session, phase, out.calls)
    out.client_cpu_s = time.process_time() - cpu
    return out


def run_phase(phase: Phase) -> Outcome:
    """Entry point of the load process."""
    return asyncio.run(_load(phase))


async def _tokens(session: aiohttp.ClientSession, url: str) -> list[str]:
    tokens = []
    for client in CLIENTS:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": client["refresh_tokens"][0],
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        }
        async with session.post(f"{url}/oauth/v2/token", data=form) as r:
            tokens.append((await r.json(content_type=None))["access_token"])
    return tokens


async def _seed(session: aiohttp.ClientSession, url: str, token: str) -> list[str]:
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    ids: list[str] = []
    for batch in range(10):
        async with session.post(
            f"{url}/crm/v8/Leads", headers=headers, json={"data": _records(999_999, batch * 100, 0)}
        ) as r:
            ids += [e["details"]["id"] for e in (await r.json())["data"]]
    return ids


async def _phases(
    emu: Emulator, args: argparse.Namespace, pool: ProcessPoolExecutor
) -> dict[str, Outcome]:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        tokens = await _tokens(session, emu.url)
        ids = await _seed(session, emu.url, tokens[0])
    per_get = min(PER_CLIENT_LIMIT, max(1, args.concurrency // len(tokens)))
    per_write = min(SUB_LIMIT, per_get)
    plan = {
        "get_by_id": Phase("get", emu.url, tokens, per_get, args.seconds, ids),
        "upsert_insert": Phase("upsert", emu.url, tokens, per_write, args.seconds),
        "upsert_update": Phase("upsert", emu.url, tokens, per_write, args.seconds),
        "upsert_insert_notify": Phase(
            "upsert", emu.url, tokens, per_write, args.seconds, email_offset=10_000_000, notify=True
        ),
        "upsert_update_notify": Phase(
            "upsert", emu.url, tokens, per_write, args.seconds, email_offset=10_000_000, notify=True
        ),
    }
    results: dict[str, Outcome] = {}
    for name, phase in plan.items():
        cpu = time.process_time()
        results[name] = await loop.run_in_executor(pool, run_phase, phase)
        results[name].server_cpu_s = time.process_time() - cpu
        print(f"{name:14s} {json.dumps(results[name].summary())}", flush=True)
    return results


async def main(args: argparse.Namespace) -> int:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        pool.submit(int).result()  # start the load process before measuring
        async with Emulator(_config(), host="127.0.0.1", port=0) as emu:
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()  # the emulator's thread only: the load runs elsewhere
            results = await _phases(emu, args, pool)
            if profiler is not None:
                profiler.disable()
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(30)
    report = _report(results, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["verdict"]))
    return 0


def _report(results: dict[str, Outcome], args: argparse.Namespace) -> dict[str, Any]:
    small = results["get_by_id"].calls / results["get_by_id"].seconds
    upserts = [results[k] for k in ("upsert_insert", "upsert_update")]
    records = min(o.records / o.seconds for o in upserts)
    notified = [results[k] for k in ("upsert_insert_notify", "upsert_update_notify")]
    records_notify = min(o.records / o.seconds for o in notified)
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {"seconds": args.seconds, "concurrency": args.concurrency},
        "phases": {name: o.summary() for name, o in results.items()},
        "load_average": os.getloadavg(),
        "verdict": {
            "small_calls_per_s": round(small, 1),
            "upsert_records_per_s": round(records, 1),
            "upsert_records_per_s_with_channel": round(records_notify, 1),
            "targets": TARGETS,
            "met": small >= TARGETS["small_calls_per_s"]
            and min(records, records_notify) >= TARGETS["upsert_records_per_s"],
        },
    }


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="cProfile the emulator side")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(_args())))
