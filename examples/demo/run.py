"""The local demo behind `make run`: local Kafka, two emulated orgs, orgsync, a change generator
and a live view of records arriving in the global org. Ctrl-C stops everything it started.

    python examples/demo/run.py [--duration SECONDS] [--rate CHANGES_PER_SECOND]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"
EMULATOR_URL = "http://127.0.0.1:8700"
INGRESS_URL = "http://127.0.0.1:8080"
SOURCE, TARGET = "regional_in", "global_us"
# Demo credentials, known only to the emulator started below (see examples/demo/emulator.yaml).
CREDENTIALS = {
    SOURCE: ("1000.DEMOREGIONALIN", "demo-regional-client-secret", "demo-regional-refresh-token"),
    TARGET: ("1000.DEMOGLOBALUS", "demo-global-client-secret", "demo-global-refresh-token"),
}
ORGSYNC_ENV = {
    "DEMO_WEBHOOK_SECRET": "demo-webhook-secret-0123456789",
    "DEMO_IN_CLIENT_SECRET": CREDENTIALS[SOURCE][1],
    "DEMO_IN_REFRESH_TOKEN": CREDENTIALS[SOURCE][2],
    "DEMO_US_CLIENT_SECRET": CREDENTIALS[TARGET][1],
    "DEMO_US_REFRESH_TOKEN": CREDENTIALS[TARGET][2],
}


def say(message: str) -> None:
    print(f"\ndemo: {message}", flush=True)


def note(message: str) -> None:
    """A line of the clean-up, on stderr; a closed stream does not stop the clean-up."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr, flush=True)


def release_stdout() -> None:
    """When the reader of stdout is gone (`make run | tee demo.log`, then Ctrl-C), point stdout
    at /dev/null: Python flushes it at exit and would print a BrokenPipeError traceback."""
    try:
        sys.stdout.flush()
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class Processes:
    """What the demo started, stopped in reverse order."""

    def __init__(self) -> None:
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.kafka_started = False

    def start_kafka(self) -> None:
        running = subprocess.run([ROOT / "scripts/local-kafka", "status"], capture_output=True)
        if running.returncode != 0:
            subprocess.run([ROOT / "scripts/local-kafka", "start"], check=True)
            self.kafka_started = True

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(ROOT / ".local" / f"demo-{name}.log", "wb")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.started.append((name, process))

    def check_alive(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise SystemExit(
                    f"demo: {name} exited with {process.returncode}; see .local/demo-{name}.log"
                )

    def stop_all(self) -> None:
        """Never writes to stdout: it must run even when stdout is closed."""
        try:
            for name, process in reversed(self.started):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                note(f"demo: stopped {name}")
        finally:
            if self.kafka_started:
                stop = [ROOT / "scripts/local-kafka", "stop"]
                subprocess.run(stop, check=False, stdout=subprocess.DEVNULL)


async def wait_http(
    session: aiohttp.ClientSession, url: str, processes: Processes, deadline_s: float = 90
) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        processes.check_alive()
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url) as response:
                if response.status < 500:
                    return
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: {url} did not answer within {deadline_s:.0f}s")
        await asyncio.sleep(0.5)


async def access_token(session: aiohttp.ClientSession, org: str) -> str:
    client_id, client_secret, refresh_token = CREDENTIALS[org]
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    async with session.post(f"{EMULATOR_URL}/oauth/v2/token", data=form) as response:
        return str((await response.json())["access_token"])


async def zoho(
    session: aiohttp.ClientSession, token: str, method: str, path: str, **kwargs: object
) -> dict[str, object]:
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    async with session.request(
        method, f"{EMULATOR_URL}/crm/v8/{path}", headers=headers, **kwargs
    ) as response:  # type: ignore[arg-type]
        return await response.json() if response.status != 204 else {}


def created_id(answer: dict[str, object]) -> str:
    return str(answer["data"][0]["details"]["id"])  # type: ignore[index]


async def generate_changes(session: aiohttp.ClientSession, rate: float) -> None:
    """A regional sales team at work: accounts with contacts, leads, and edits to them."""
    token = await access_token(session, SOURCE)
    leads: list[str] = []
    for n in itertools.count(1):
        account = created_id(
            await zoho(
                session,
                token,
                "POST",
                "Accounts",
                json={
                    "data": [
                        {
                            "Account_Name": f"Demo Account {n} {random.randrange(10**6)}",
                            "Phone": "+91 80 5550 1000",
                        }
                    ]
                },
            )
        )
        await zoho(
            session,
            token,
            "POST",
            "Contacts",
            json={
                "data": [
                    {
                        "Last_Name": f"Contact {n}",
                        "Email": f"contact{n}.{random.randrange(10**6)}@regional.example",
                        "Account_Name": {"id": account},
                    }
                ]
            },
        )
        answer = await zoho(
            session,
            token,
            "POST",
            "Leads",
            json={
                "data": [
                    {
                        "Last_Name": f"Lead {n}",
                        "Company": "Acme India",
                        "Lead_Source": "Web Form",
                        "Email": f"lead{n}.{random.randrange(10**6)}@regional.example",
                    }
                ]
            },
        )
        leads.append(created_id(answer))
        if n % 3 == 0:
            await zoho(
                session,
                token,
                "PUT",
                "Leads",
                json={
                    "data": [
                        {
                            "id": random.choice(leads),
                            "Lead_Status": random.choice(["Contacted", "Qualified"]),
                        }
                    ]
                },
            )
        await asyncio.sleep(4 / rate)


async def live_view(session: aiohttp.ClientSession, started_ms: int) -> None:
    """One refreshed line: what arrived in the global org and the latest end-to-end latency."""
    token = await access_token(session, TARGET)
    while True:
        async with session.get(
            f"{EMULATOR_URL}/__emulator/orgs/{TARGET}/log", params={"since_ms": str(started_ms)}
        ) as response:
            target_log = await response.json()
        async with session.get(
            f"{EMULATOR_URL}/__emulator/orgs/{SOURCE}/log", params={"since_ms": str(started_ms)}
        ) as response:
            source_log = await response.json()
        arrived = Counter(f"{e['module']} {e['op']}" for e in target_log)
        latency = "-"
        if target_log:
            last = target_log[-1]
            record = await zoho(session, token, "GET", f"{last['module']}/{last['id']}")
            rows = record.get("data") or [{}]
            source_id = rows[0].get("Origin_Record_Id")  # type: ignore[index]
            written = [
                e["at_ms"]
                for e in source_log
                if e["id"] == source_id and e["at_ms"] <= last["at_ms"]
            ]
            if written:
                latency = f"{(last['at_ms'] - max(written)) / 1000:.2f}s"
        summary = "  ".join(f"{k}: {v}" for k, v in sorted(arrived.items())) or "waiting…"
        print(
            f"\r{TARGET} ← {summary} | source writes: {len(source_log)} "
            f"| last latency: {latency}   ",
            end="",
            flush=True,
        )
        await asyncio.sleep(1)


def fresh_config() -> Path:
    """The demo config with topics of its own: every run starts a new emulator, whose record ids
    start over, so the id map and dedup state of an earlier run must not apply to this one."""
    config = yaml.safe_load((DEMO / "orgsync.yaml").read_text())
    config["kafka"]["topic_prefix"] = f"orgsync-demo-{int(time.time())}"
    for org in config["orgs"].values():
        org["token_cache"] = str((DEMO / org["token_cache"]).resolve())
    path = ROOT / ".local" / "demo-orgsync.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def demo(args: argparse.Namespace, processes: Processes) -> None:
    (ROOT / ".local").mkdir(exist_ok=True)
    processes.start_kafka()
    processes.spawn(
        "emulator",
        [
            sys.executable,
            "-m",
            "zoho_emulator",
            "--config",
            str(DEMO / "emulator.yaml"),
            "--port",
            "8700",
        ],
    )
    async with aiohttp.ClientSession() as session:
        await wait_http(session, f"{EMULATOR_URL}/__emulator/stats", processes)
        processes.spawn(
            "orgsync",
            [sys.executable, "-m", "orgsync.cli", "run", "--config", str(fresh_config())],
            env=ORGSYNC_ENV,
        )
        await wait_http(session, f"{INGRESS_URL}/healthz", processes)
        say(
            f"status page {INGRESS_URL}/  metrics {INGRESS_URL}/metrics  "
            f"emulator {EMULATOR_URL}/__emulator/stats  (Ctrl-C stops everything)"
        )
        started_ms = int(time.time() * 1000)
        tasks = [
            asyncio.create_task(generate_changes(session, args.rate)),
            asyncio.create_task(live_view(session, started_ms)),
        ]
        try:
            deadline = time.monotonic() + args.duration if args.duration else None
            while deadline is None or time.monotonic() < deadline:
                processes.check_alive()
                for task in tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(1)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=0, help="stop after N seconds (0: until Ctrl-C)"
    )
    parser.add_argument("--rate", type=float, default=4.0, help="source changes per second")
    args = parser.parse_args()
    processes = Processes()
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        asyncio.run(demo(args, processes))
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, or the reader of stdout is gone
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut it short
        note("")  # ends the live view's line
        processes.stop_all()
        release_stdout()
    return 0


if __name__ == "__main__":
    sys.exit(main())
