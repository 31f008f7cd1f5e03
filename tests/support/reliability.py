"""Helpers for the reliability suite: orgsync processes, load, record-by-record checks, results.

The pipeline tests' support (tests/support/pipeline.py) provides the
emulated orgs, the config writer and the worker subprocess; this module adds what the
scenarios need on top: any role, a public ingress URL for Notification API callbacks, a short
poller, a mirror check that counts duplicates, and the results file behind docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from connectors.zoho import BackoffPolicy, OrgConnection, ZohoClient, ZohoError
from connectors.zoho.errors import InternalError
from tests.support.ingress import free_port
from tests.support.pipeline import (
    SECRET,
    Worker,
    ingress_ready,
    records,
    worker_env,
    write_config,
)
from zoho_emulator import Emulator
from zoho_emulator.notifications import hub_of

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "reliability.json"
T = TypeVar("T")
CLI_TIMEOUT_S = 120
SCALE_ENV = "ORGSYNC_RELIABILITY_SCALE"
ORIGIN = "Origin_Record_Id"
# A sink that retries soon after a fault, so that the scenarios converge within seconds.
QUICK_SINK: dict[str, Any] = {"linger_ms": 100, "backoff_initial_ms": 200, "backoff_max_ms": 2000}
ACCOUNTS_ROUTE: dict[str, Any] = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": ORIGIN}},
}


def scale() -> float:
    """1.0 (the default, which CI runs) = the issue's full loads; less for a quick look."""
    return float(os.environ.get(SCALE_ENV, "1.0"))


def scaled(full: int, minimum: int) -> int:
    return max(minimum, int(full * scale()))


# --- orgsync processes ---------------------------------------------------------------------------


class Orgsync(Worker):
    """`orgsync run --role ROLE` with its own log file (all its output), info level."""

    def __init__(
        self, config: Path, env: dict[str, str], workdir: Path, role: str, name: str
    ) -> None:
        super().__init__(config, env, workdir)
        self.role = role
        self.log_path = workdir / f"{name}.log"
        self.starts = 0

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orgsync.cli",
                "run",
                "--config",
                str(self.config),
                "--role",
                self.role,
                "--log-level",
                "info",
            ],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@dataclass
class Deployment:
    """One orgsync configuration against the emulator, and the processes run from it."""

    config: Path
    env: dict[str, str]
    workdir: Path
    prefix: str
    ingress_url: str
    processes: list[Orgsync] = field(default_factory=list)

    def process(self, role: str, name: str | None = None) -> Orgsync:
        proc = Orgsync(self.config, self.env, self.workdir, role, name or f"orgsync-{role}")
        self.processes.append(proc)
        return proc

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def stop_all(self) -> list[str]:
        """SIGTERM every live process; the problems (exit code, timeout) as text."""
        problems = []
        for proc in self.processes:
            if proc.alive():
                try:
                    code = proc.stop()
                except subprocess.TimeoutExpired:
                    code = "timeout"
                if code != 0:
                    problems.append(f"{proc.log_path.name}: exit {code} on SIGTERM")
        return problems

    async def cli(self, *args: str, stdin: bytes | None = None) -> CliResult:
        """Another orgsync command (dlq, check) with this deployment's config and env; run
        without blocking the loop, as the emulator answers it from this very loop."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orgsync.cli",
            *args,
            "--config",
            str(self.config),
            env=self.env,
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), CLI_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        result = CliResult(
            process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
        )
        log = self.workdir / f"cli-{len(list(self.workdir.glob('cli-*.log')))}.log"
        log.write_text(f"$ orgsync {' '.join(args)}\n{result.stdout}{result.stderr}")
        return result


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


MakeDeployment = Callable[..., Deployment]


ADMIN_SECRET = "admin-secret-0123456789abcdef-admin"


def deploy(
    emu: Emulator,
    broker: str,
    prefix: str,
    workdir: Path,
    sync: list[dict[str, Any]],
    orgs: tuple[str, ...] = ("src", "tgt"),
    poll_seconds: float = 600.0,
    host: str = "127.0.0.1",
    **overrides: Any,
) -> Deployment:
    """A config whose ingress gets the emulator's Notification API callbacks; bound to `host`
    (beyond loopback it is protected by an admin secret)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ingress = {
        "listen": f"{host}:{port}",
        "public_url": url,
        "webhook_secret": "${HOOK_SECRET}",
        "admin_secret": "${ADMIN_SECRET}",
    }
    poller = {"interval_seconds": poll_seconds, "overlap_seconds": 5}
    config = write_config(
        workdir / "orgsync.yaml",
        emu.url,
        broker,
        prefix,
        orgs,
        sync,
        ingress=ingress,
        poller=poller,
        **overrides,
    )
    with_token_cache(config)
    env = {**worker_env(orgs), "ADMIN_SECRET": ADMIN_SECRET}
    return Deployment(config, env, workdir, prefix, url)


def with_token_cache(config: Path) -> None:
    """Each org caches its access token next to the config (0600), as a deployment should:
    a restarted process reuses it instead of spending one of Zoho's 10 refreshes per 10 min."""
    raw = yaml.safe_load(config.read_text())
    for name, org in raw["orgs"].items():
        org["token_cache"] = f"token-{name}.json"
    config.write_text(yaml.safe_dump(raw))


async def until(check: Any, within: float, what: str, procs: Iterable[Orgsync] = ()) -> float:
    """Poll `check()` (sync or async) until true; fail after `within` s; the seconds taken."""
    start = time.monotonic()
    while True:
        done = check()
        if asyncio.iscoroutine(done):
            done = await done
        if done:
            return time.monotonic() - start
        for proc in procs:
            if proc.process is not None and not proc.alive():
                raise AssertionError(
                    f"{proc.log_path.name} exited ({proc.process.returncode}):\n{proc.log()}"
                )
        if time.monotonic() - start > within:
            tails = "\n".join(f"--- {p.log_path.name}\n{p.log()}" for p in procs)
            raise AssertionError(f"timed out after {within}s waiting for {what}\n{tails}")
        await asyncio.sleep(0.25)


async def converged(
    check: Any,
    within: float,
    what: str,
    procs: Iterable[Orgsync] = (),
) -> tuple[float | None, str]:
    """As `until`, but a timeout is a result: (None, why), so the row is still recorded."""
    try:
        return await until(check, within, what, procs), ""
    except AssertionError as error:
        return None, str(error)


def channels_ready(emu: Emulator, org: str = "src") -> bool:
    """The ingress subscribed a Notification API channel for the source org."""
    return bool(hub_of(emu.app, org).active())


@dataclass
class RunningIngress:
    """`orgsync run --role ingress` with its Notification API channel subscribed."""

    deployment: Deployment
    process: Orgsync
    broker: str
    channel_id: str
    token: str

    @property
    def url(self) -> str:
        return self.deployment.ingress_url

    async def hints(self) -> int:
        return await topic_count(self.broker, self.deployment.topic("hints"))


async def start_receiving(
    process: Orgsync, deployment: Deployment, emu: Emulator, session: aiohttp.ClientSession
) -> None:
    """Start an orgsync process that runs the ingress; return once it answers and its
    Notification API channel for the source org is subscribed."""
    process.start()
    await until(
        lambda: ingress_ready(session, deployment.ingress_url), 60, "the ingress", [process]
    )
    await until(lambda: channels_ready(emu), 30, "the notification channel", [process])


async def start_ingress(
    emu: Emulator, deployment: Deployment, broker: str, session: aiohttp.ClientSession
) -> RunningIngress:
    process = deployment.process("ingress")
    await start_receiving(process, deployment, emu, session)
    [sub] = hub_of(emu.app, "src").active()
    assert sub.token is not None
    return RunningIngress(deployment, process, broker, sub.channel_id, sub.token)


# --- load ----------------------------------------------------------------------------------------


async def patient_client(emu: Emulator, org: str, session: aiohttp.ClientSession) -> ZohoClient:
    """The test's own writer: retries long enough to get through the injected faults."""
    conn = OrgConnection(
        name=org,
        dc="in" if org == "src" else "us",
        edition="enterprise",
        client_id=f"1000.{org.upper()}",
        client_secret=SECRET,
        refresh_token=f"1000.refresh.{org}.{SECRET}",
        accounts_url=emu.url,
        api_url=emu.url,
    )
    zoho = ZohoClient(
        conn, session=session, backoff=BackoffPolicy(max_attempts=12, base=0.05, cap=0.5)
    )
    await zoho.start()
    return zoho


def account(n: int, tier: str | None = "gold") -> dict[str, Any]:
    row: dict[str, Any] = {"Account_Name": f"Acct {n:06d}", "Phone": f"+1555{n:07d}"}
    if tier is not None:
        row["Tier"] = tier
    return row


async def insist(call: Callable[[], Awaitable[T]], attempts: int = 30) -> T:
    """The test's own writes under injected faults: the client gives up on a 500 to a write
    (it cannot know whether it happened); an injected fault never writes, so try again."""
    for _ in range(attempts - 1):
        try:
            return await call()
        except ZohoError as error:
            if not error.retryable and not isinstance(error, InternalError):
                raise
            await asyncio.sleep(0.2)  # a backoff, not a synchronisation
    return await call()


async def insert_accounts(zoho: ZohoClient, numbers: range, **kw: Any) -> list[str]:
    ids: list[str] = []
    for start in range(numbers.start, numbers.stop, 100):
        rows = [account(n, **kw) for n in range(start, min(start + 100, numbers.stop))]
        outcomes = await insist(lambda rows=rows: zoho.insert("Accounts", rows))
        ids += [str(o.id) for o in outcomes]
    return ids


# --- checks --------------------------------------------------------------------------------------


MIRRORED = ("Account_Name", "Phone", "Tier")


@dataclass
class Mirror:
    """How the target's records compare with the source's, record by record."""

    expected: int
    found: int
    duplicates: int
    missing: list[str]
    wrong: list[str]

    @property
    def exact(self) -> bool:
        return (
            self.found == self.expected
            and not self.duplicates
            and not self.missing
            and not self.wrong
        )


def mirror(
    emu: Emulator,
    module: str = "Accounts",
    fields: tuple[str, ...] = MIRRORED,
    source: str = "src",
    target: str = "tgt",
) -> Mirror:
    sources = {str(r["id"]): r for r in records(emu, source, module)}
    targets = records(emu, target, module)
    per_origin = Counter(str(r.get(ORIGIN)) for r in targets)
    by_origin = {str(r.get(ORIGIN)): r for r in targets}
    missing = sorted(set(sources) - set(by_origin))
    wrong = [
        sid
        for sid, row in sources.items()
        if sid in by_origin and any(by_origin[sid].get(f) != row.get(f) for f in fields)
    ]
    extra = sum(n - 1 for n in per_origin.values() if n > 1)
    return Mirror(len(sources), len(targets), extra, missing, sorted(wrong))


async def topic_count(broker: str, topic: str) -> int:
    """Messages ever written to `topic` (0 if it does not exist)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()  # a topic created after start
            partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


# --- results ------------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    load: str
    faults: str
    expected: int
    found: int
    duplicates: int
    dlq: int
    converge_s: float | None
    passed: bool = False
    note: str = ""
    scale: float = field(default_factory=scale)
    at: float = field(default_factory=time.time)


def record_row(row: Row) -> None:
    """Add or replace this scenario's row in bench/results/reliability.json."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rows = orjson.loads(RESULTS.read_bytes()) if RESULTS.exists() else {}
    rows[row.scenario] = asdict(row)
    RESULTS.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def random_delays(count: int, low: float, high: float, seed: int | None = None) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(low, high) for _ in range(count)]
