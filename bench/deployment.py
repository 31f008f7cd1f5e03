"""An orgsync deployment against the in-process Zoho emulator: the emulated orgs, a config,
orgsync processes, load that gets through injected faults, and a record-by-record check.

The soak (bench/soak.py) runs on it, and so do the pipeline and reliability tests, which import
it from here (bench never imports tests).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

from connectors.zoho import BackoffPolicy, OrgConnection, ZohoClient, ZohoError
from connectors.zoho.errors import InternalError
from zoho_emulator import Emulator
from zoho_emulator.notifications import hub_of

T = TypeVar("T")
SECRET = "secret-0123456789abcdef-secret"
ADMIN_SECRET = "admin-secret-0123456789abcdef-admin"
CLI_TIMEOUT_S = 120
ORIGIN = "Origin_Record_Id"
ORIGIN_FIELD = {"api_name": ORIGIN, "data_type": "text", "unique": True}
ACCOUNTS_ROUTE: dict[str, Any] = {
    "source": "src",
    "target": "tgt",
    "modules": {"Accounts": {"match_field": ORIGIN}},
}


# --- orgs and config ------------------------------------------------------------------------------


def org_config(
    name: str, dc: str, modules: dict[str, Any] | None = None, apps: Iterable[str] = ()
) -> dict[str, Any]:
    """An emulated org with orgsync's Zoho app, and one more per name in `apps` (a test's own
    writer, whose writes the stats and the write log then tell from orgsync's)."""
    return {
        "dc": dc,
        "edition": "enterprise",
        "modules": modules or {},
        "users": [
            {"email": f"admin@{name}.example", "name": "Admin"},
            {"email": "shared@example.com", "name": "Shared"},
        ],
        "clients": [
            {
                "client_id": client_id(name, app),
                "client_secret": SECRET,
                "refresh_tokens": [refresh_token(name, app)],
            }
            for app in (None, *apps)
        ],
    }


def client_id(org: str, app: str | None = None) -> str:
    """The client id of orgsync's Zoho app in an emulated org, or of another app of it."""
    return f"1000.{org.upper()}" if app is None else f"1000.{org.upper()}.{app.upper()}"


def refresh_token(org: str, app: str | None = None) -> str:
    return f"1000.refresh.{org}.{SECRET}" if app is None else f"1000.refresh.{org}.{app}.{SECRET}"


def target_modules(**extra: dict[str, Any]) -> dict[str, Any]:
    modules = {m: {"fields": [ORIGIN_FIELD]} for m in ("Accounts", "Contacts", "Leads")}
    for module, fields in extra.items():
        modules[module]["fields"].append(fields)
    return modules


def write_config(
    path: Path,
    emu_url: str,
    broker: str,
    prefix: str,
    orgs: Iterable[str],
    sync: list[dict[str, Any]],
    **overrides: Any,
) -> Path:
    config: dict[str, Any] = {
        "kafka": {"broker": f"kafka://{broker}", "topic_prefix": prefix, "partitions": 4},
        "ingress": {"listen": "127.0.0.1:0", "webhook_secret": "${HOOK_SECRET}"},
        "orgs": {
            name: {
                "dc": "in" if name == "src" else "us",
                "edition": "enterprise",
                "client_id": f"1000.{name.upper()}",
                "client_secret": "${CLIENT_SECRET}",
                "refresh_token": f"${{REFRESH_{name.upper()}}}",
                "api_url": emu_url,
                "accounts_url": emu_url,
            }
            for name in orgs
        },
        "sync": sync,
        "fetch": {"linger_ms": 200},
        "sink": {"linger_ms": 150, "backoff_initial_ms": 200, "backoff_max_ms": 1000},
        "processor": {"parent_wait_seconds": 15},
    }
    config.update(overrides)
    path.write_text(yaml.safe_dump(config))
    return path


def worker_env(orgs: Iterable[str]) -> dict[str, str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "CLIENT_SECRET": SECRET}
    env.update({f"REFRESH_{n.upper()}": f"1000.refresh.{n}.{SECRET}" for n in orgs})
    return env


def with_token_cache(config: Path) -> None:
    """Each org caches its access token next to the config (0600), as a deployment should:
    a restarted process reuses it instead of spending one of Zoho's 10 refreshes per 10 min."""
    raw = yaml.safe_load(config.read_text())
    for name, org in raw["orgs"].items():
        org["token_cache"] = f"token-{name}.json"
    config.write_text(yaml.safe_dump(raw))


def free_port() -> int:
    """A local TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- orgsync processes ----------------------------------------------------------------------------


class Worker:
    """`orgsync run --role ROLE` as a subprocess, logging to a file in the test's tmp dir."""

    def __init__(
        self,
        config: Path,
        env: dict[str, str],
        workdir: Path,
        role: str = "worker",
        log_name: str = "worker.log",
    ) -> None:
        self.config, self.env, self.workdir, self.role = config, env, workdir, role
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / log_name

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

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    async def terminate(self, within: float = 30.0) -> int | None:
        """SIGTERM, then wait for the exit without blocking the loop (the emulator runs in it)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"no exit {within}s after SIGTERM:\n{self.log()}")
            await asyncio.sleep(0.05)
        return self.process.returncode

    def log(self, chars: int | None = 4000) -> str:
        text = self.log_path.read_text(errors="replace")
        return text if chars is None else text[-chars:]


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
        super().start()
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


# --- waiting -------------------------------------------------------------------------------------


async def ingress_ready(session: aiohttp.ClientSession, url: str) -> bool:
    """True once the ingress at `url` answers /healthz with 200."""
    try:
        async with session.get(f"{url}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def channels_ready(emu: Emulator, org: str = "src") -> bool:
    """The ingress subscribed a Notification API channel for the source org."""
    return bool(hub_of(emu.app, org).active())


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


# --- load ----------------------------------------------------------------------------------------


async def emulator_client(
    emu: Emulator,
    org: str,
    session: aiohttp.ClientSession,
    backoff: BackoffPolicy,
    app: str | None = None,
) -> ZohoClient:
    """A started client of an emulated org (the credentials `org_config` gives it), as
    orgsync's app or as another of the org's `apps`."""
    conn = OrgConnection(
        name=org,
        dc="in" if org == "src" else "us",
        edition="enterprise",
        client_id=client_id(org, app),
        client_secret=SECRET,
        refresh_token=refresh_token(org, app),
        accounts_url=emu.url,
        api_url=emu.url,
    )
    zoho = ZohoClient(conn, session=session, backoff=backoff)
    await zoho.start()
    return zoho


async def patient_client(emu: Emulator, org: str, session: aiohttp.ClientSession) -> ZohoClient:
    """The test's own writer: retries long enough to get through the injected faults."""
    return await emulator_client(
        emu, org, session, BackoffPolicy(max_attempts=12, base=0.05, cap=0.5)
    )


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


def records(emu: Emulator, org: str, module: str) -> list[dict[str, Any]]:
    state = emu.state.orgs[org]
    renderer = state.renderer(module)
    return [renderer.full(r) for r in state.stores[module].records.values()]


def count(emu: Emulator, org: str, module: str) -> int:
    """Records in a module, without rendering them (cheap enough to poll)."""
    return len(emu.state.orgs[org].stores[module].records)


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
