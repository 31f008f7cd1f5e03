"""The local demo behind `make run`: local Kafka, two emulated orgs, orgsync, a change generator
and a live view of records arriving in the global org. Ctrl-C stops everything it started.

    python examples/demo/run.py [--duration SECONDS] [--rate CHANGES_PER_SECOND]

Ports move with DEMO_KAFKA_PORT (9092), DEMO_EMULATOR_PORT (8700) and DEMO_INGRESS_PORT (8080).
The regional org's home currency is INR (with a USD rate), the global org's USD: its Deals
arrive converted, with their notes.
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


def port(variable: str, default: int) -> int:
    """A port from the environment (the demo's defaults clash with something else running)."""
    value = os.environ.get(variable, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"demo: {variable}={value!r} is not a port")
    return int(value)


KAFKA_PORT = port("DEMO_KAFKA_PORT", 9092)
EMULATOR_URL = f"http://127.0.0.1:{port('DEMO_EMULATOR_PORT', 8700)}"
INGRESS_URL = f"http://127.0.0.1:{port('DEMO_INGRESS_PORT', 8080)}"
KAFKA_ENV = {**os.environ, "KAFKA_PORT": str(KAFKA_PORT)}  # what scripts/local-kafka reads
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
        status = [ROOT / "scripts/local-kafka", "status"]
        if subprocess.run(status, capture_output=True, env=KAFKA_ENV).returncode != 0:
            subprocess.run([ROOT / "scripts/local-kafka", "start"], check=True, env=KAFKA_ENV)
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
                subprocess.run(stop, check=False, stdout=subprocess.DEVNULL, env=KAFKA_ENV)


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


class Generator:
    """A regional sales team at work: accounts with contacts and deals in rupees (a note on
    each deal), leads, and edits to them."""

    def __init__(self, session: aiohttp.ClientSession, token: str) -> None:
        self.session, self.token = session, token
        self.leads: list[str] = []

    async def insert(self, module: str, record: dict[str, object]) -> str:
        body = {"data": [record]}
        return created_id(await zoho(self.session, self.token, "POST", module, json=body))

    async def account(self, n: int) -> None:
        tag = random.randrange(10**6)
        name = f"Demo Account {n} {tag}"
        account = await self.insert("Accounts", {"Account_Name": name, "Phone": "+91 80 5550 1000"})
        email = f"contact{n}.{tag}@regional.example"
        account_ref = {"id": account}
        await self.insert(
            "Contacts", {"Last_Name": f"Contact {n}", "Email": email, "Account_Name": account_ref}
        )
        amount = random.randrange(5, 100) * 100_000  # INR, the regional org's home currency
        deal = {"Deal_Name": f"Deal {n}", "Stage": "Qualification", "Amount": amount}
        deal_id = await self.insert("Deals", {**deal, "Account_Name": account_ref})
        note = {"Note_Title": "Kick-off", "Note_Content": f"Budget INR {amount:,}"}
        await zoho(
            self.session, self.token, "POST", f"Deals/{deal_id}/Notes", json={"data": [note]}
        )

    async def lead(self, n: int) -> None:
        email = f"lead{n}.{random.randrange(10**6)}@regional.example"
        lead = {"Last_Name": f"Lead {n}", "Company": "Acme India", "Lead_Source": "Web Form"}
        self.leads.append(await self.insert("Leads", {**lead, "Email": email}))
        if n % 3 == 0:
            status = random.choice(["Contacted", "Qualified"])
            edit = {"data": [{"id": random.choice(self.leads), "Lead_Status": status}]}
            await zoho(self.session, self.token, "PUT", "Leads", json=edit)


async def generate_changes(session: aiohttp.ClientSession, rate: float) -> None:
    generator = Generator(session, await access_token(session, SOURCE))
    for n in itertools.count(1):
        await generator.account(n)
        await generator.lead(n)
        await asyncio.sleep(4 / rate)


async def last_deal(
    session: aiohttp.ClientSession, tokens: dict[str, str], target_log: list[dict[str, object]]
) -> str:
    """The currency story of the last deal that arrived: its amount in both orgs."""
    deals = [e for e in target_log if e["module"] == "Deals"]
    if not deals:
        return ""
    copy = await record_of(session, tokens[TARGET], f"Deals/{deals[-1]['id']}")
    original = await record_of(session, tokens[SOURCE], f"Deals/{copy.get('Origin_Record_Id')}")
    return f" | last deal: INR {original.get('Amount')} → USD {copy.get('Amount')}"


async def record_of(session: aiohttp.ClientSession, token: str, path: str) -> dict[str, object]:
    rows = (await zoho(session, token, "GET", path)).get("data") or [{}]
    return dict(rows[0])  # type: ignore[index]


async def logged(
    session: aiohttp.ClientSession, org: str, started_ms: int
) -> list[dict[str, object]]:
    url = f"{EMULATOR_URL}/__emulator/orgs/{org}/log"
    async with session.get(url, params={"since_ms": str(started_ms)}) as response:
        entries: list[dict[str, object]] = await response.json()
        return entries


async def latency(
    session: aiohttp.ClientSession,
    token: str,
    source_log: list[dict[str, object]],
    target_log: list[dict[str, object]],
) -> str:
    """From the source write to its copy's arrival, for the last record that arrived."""
    synced = [e for e in target_log if e["module"] != "Notes"]  # a note has no origin id
    if not synced:
        return "-"
    last = synced[-1]
    record = await record_of(session, token, f"{last['module']}/{last['id']}")
    arrived = int(str(last["at_ms"]))
    written = [
        int(str(e["at_ms"]))
        for e in source_log
        if e["id"] == record.get("Origin_Record_Id") and int(str(e["at_ms"])) <= arrived
    ]
    return f"{(arrived - max(written)) / 1000:.2f}s" if written else "-"


async def live_view(session: aiohttp.ClientSession, started_ms: int) -> None:
    """One refreshed line: what arrived in the global org, the latest end-to-end latency and
    the last deal's amount in both currencies."""
    tokens = {org: await access_token(session, org) for org in (SOURCE, TARGET)}
    while True:
        target_log = await logged(session, TARGET, started_ms)
        source_log = await logged(session, SOURCE, started_ms)
        arrived = Counter(f"{e['module']} {e['op']}" for e in target_log)
        summary = "  ".join(f"{k}: {v}" for k, v in sorted(arrived.items())) or "waiting…"
        last = await latency(session, tokens[TARGET], source_log, target_log)
        deal = await last_deal(session, tokens, target_log)
        print(
            f"\r{TARGET} ← {summary} | source writes: {len(source_log)} "
            f"| last latency: {last}{deal}   ",
            end="",
            flush=True,
        )
        await asyncio.sleep(1)


def fresh_config() -> Path:
    """The demo config with topics of its own (every run starts a new emulator, whose record ids
    start over, so the id map and dedup state of an earlier run must not apply to this one) and
    the ports of this run."""
    config = yaml.safe_load((DEMO / "orgsync.yaml").read_text())
    config["kafka"]["broker"] = f"kafka://127.0.0.1:{KAFKA_PORT}"
    config["kafka"]["topic_prefix"] = f"orgsync-demo-{int(time.time())}"
    config["ingress"]["listen"] = INGRESS_URL.removeprefix("http://")
    config["ingress"]["public_url"] = INGRESS_URL
    for org in config["orgs"].values():
        org["token_cache"] = str((DEMO / org["token_cache"]).resolve())
        org["api_url"] = org["accounts_url"] = EMULATOR_URL
    return written(config, "demo-orgsync.yaml")


def emulator_config() -> Path:
    config = yaml.safe_load((DEMO / "emulator.yaml").read_text())
    config["public_url"] = EMULATOR_URL
    return written(config, "demo-emulator.yaml")


def written(config: dict[str, object], name: str) -> Path:
    path = ROOT / ".local" / name
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
            str(emulator_config()),
            "--port",
            EMULATOR_URL.rsplit(":", 1)[1],
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
