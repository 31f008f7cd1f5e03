"""One seed of one scenario against the real product: `orgsync run --role ingress` (the
reconciliation poller) and `--role worker` as processes, the emulator in this process, a Kafka
broker. The harness writes through its own Zoho app in each org (`EDITOR`), so the write log
tells its edits from orgsync's writes.

Steps: create the records in every org, wait (bounded) for their copies; edit on the plan's
schedule while the chaos notifier forwards writes and the worker is killed (-9) once and
started again; wait (bounded) until every org agrees; watch a quiet window; judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.convergence.chaos import ChaosNotifier, notifying
from bench.convergence.plan import (
    CI_SIZE,
    MODULE,
    Chaos,
    Plan,
    PlannedEdit,
    Size,
    Topology,
    make_plan,
)
from bench.convergence.verdict import Applied, RunResult, Snapshot, converged, judge
from bench.deployment import (
    Deployment,
    Orgsync,
    client_id,
    emulator_client,
    free_port,
    ingress_ready,
    insist,
    org_config,
    target_modules,
    until,
    with_token_cache,
    worker_env,
    write_config,
)
from connectors.zoho import BackoffPolicy, ZohoClient
from orgsync_kernel.events import DeadLetter
from zoho_emulator import Emulator

EDITOR = "editor"  # the harness's own Zoho app in every org
FAST_POLLER = {"interval_seconds": 5, "overlap_seconds": 10}
START_WITHIN_S = 60.0
EDITOR_BACKOFF = BackoffPolicy(max_attempts=6, base=0.05, cap=0.5)


def emulator_orgs(topology: Topology) -> dict[str, Any]:
    """The emulator's orgs: Leads with a unique `Origin_Record_Id`, orgsync's app and ours."""
    return {
        name: org_config(name, dc, target_modules(), apps=[EDITOR]) for name, dc in topology.orgs
    }


@dataclass
class Setup:
    emu: Emulator
    broker: str
    prefix: str
    workdir: Path
    topology: Topology
    size: Size = CI_SIZE
    chaos: Chaos = Chaos()
    poller: Mapping[str, float] | None = None  # None: orgsync's defaults
    workers: int = 1  # more share the partitions; the one killed is the first


async def run_seed(setup: Setup, seed: int) -> RunResult:
    started = time.monotonic()
    plan = make_plan(setup.topology, setup.size, setup.chaos, seed)
    deployment = _deployment(setup)
    try:
        async with _editors(setup) as editors, _producer(setup.broker) as producer:
            result = await _run(setup, plan, deployment, editors, producer)
    finally:
        exits = await _stop(deployment)
    result.notes += exits
    result.seconds = time.monotonic() - started
    return result


async def _run(
    setup: Setup,
    plan: Plan,
    deployment: Deployment,
    editors: dict[str, ZohoClient],
    producer: AIOKafkaProducer,
) -> RunResult:
    ingress, worker = deployment.process("ingress"), deployment.process("worker")
    await _start(deployment, ingress, worker)
    for n in range(2, setup.workers + 1):
        deployment.process("worker", f"orgsync-worker{n}").start()
    rng = random.Random(f"{plan.seed}-notifications")
    orgs = setup.topology.names
    notifier = ChaosNotifier(setup.emu, producer, deployment.topic("hints"), orgs, setup.chaos, rng)
    run = _Run(setup, plan, editors, (ingress, worker))
    async with notifying(notifier):
        await run.create()
        await run.edit(worker)
        await run.converge()
        await run.quiet()
    dlq = await dead_letters(setup.broker, deployment.topic("dlq"))
    return run.result(dlq, dict(notifier.counts), str(deployment.workdir))


# --- the deployment -------------------------------------------------------------------------------


def _deployment(setup: Setup) -> Deployment:
    names = setup.topology.names
    port = free_port()
    overrides: dict[str, Any] = {
        "ingress": {"listen": f"127.0.0.1:{port}", "webhook_secret": "${HOOK_SECRET}"}
    }
    if setup.poller is not None:
        overrides["poller"] = dict(setup.poller)
    config = write_config(
        setup.workdir / "orgsync.yaml",
        setup.emu.url,
        setup.broker,
        setup.prefix,
        names,
        setup.topology.routes(),
        **overrides,
    )
    _set_data_centres(config, setup.topology)
    with_token_cache(config)
    return Deployment(
        config, worker_env(names), setup.workdir, setup.prefix, f"http://127.0.0.1:{port}"
    )


def _set_data_centres(config: Path, topology: Topology) -> None:
    raw = yaml.safe_load(config.read_text())
    for name, dc in topology.orgs:
        raw["orgs"][name]["dc"] = dc
    config.write_text(yaml.safe_dump(raw))


async def _start(deployment: Deployment, ingress: Orgsync, worker: Orgsync) -> None:
    """The ingress first: it creates the topics before it answers /healthz."""
    ingress.start()
    async with aiohttp.ClientSession() as session:
        await until(
            lambda: ingress_ready(session, deployment.ingress_url),
            START_WITHIN_S,
            "the ingress",
            [ingress],
        )
    worker.start()


async def _stop(deployment: Deployment) -> list[str]:
    """SIGTERM each process, the loop free meanwhile (the emulator answers their last writes);
    an exit code other than 0 is a problem."""
    problems = []
    for proc in deployment.processes:
        code: int | str | None
        try:
            code = await proc.terminate()
        except AssertionError:  # killed after 30 s
            code = "none 30 s after SIGTERM"
        if code not in (0, None):
            problems.append(f"{proc.log_path.name}: exit {code} on SIGTERM")
    return problems


@contextlib.asynccontextmanager
async def _editors(setup: Setup) -> AsyncIterator[dict[str, ZohoClient]]:
    async with aiohttp.ClientSession() as session:
        clients = {
            org: await emulator_client(setup.emu, org, session, EDITOR_BACKOFF, app=EDITOR)
            for org in setup.topology.names
        }
        yield clients


@contextlib.asynccontextmanager
async def _producer(broker: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


# --- one run --------------------------------------------------------------------------------------


class _Run:
    """The state of one seed's run: what the harness wrote, and what it measured."""

    def __init__(
        self,
        setup: Setup,
        plan: Plan,
        editors: dict[str, ZohoClient],
        procs: tuple[Orgsync, ...],
    ) -> None:
        self.setup, self.plan, self.editors, self.procs = setup, plan, editors, procs
        self.topology = setup.topology
        self.history: list[Applied] = []
        self.skipped: list[str] = []
        self.notes: list[str] = []
        self.t0 = time.time()
        self.last_edit = time.monotonic()
        self.initial_s: float | None = None
        self.converge_s: float | None = None
        self.quiet_writes: dict[str, int] = {}
        self.snapshot: Snapshot = {}

    def snap(self) -> Snapshot:
        stores = {org: self.setup.emu.state.orgs[org].stores[MODULE] for org in self.topology.names}
        return {
            org: [{"id": rid, **r.values} for rid, r in store.records.items()]
            for org, store in stores.items()
        }

    async def bounded(self, check: Callable[[], bool], within: float, what: str) -> float | None:
        """Seconds until `check()`, or None (noted) when it did not happen `within` s."""
        try:
            return await until(check, within, what, self.procs)
        except AssertionError as error:
            self.notes.append(str(error).splitlines()[0])
            return None

    async def create(self) -> None:
        by_org: dict[str, list[dict[str, str]]] = {}
        for creation in self.plan.creations:
            by_org.setdefault(creation.org, []).append(creation.values)
        for org, rows in by_org.items():
            outcomes = await insist(partial(self.editors[org].insert, MODULE, rows))
            acked = time.time()
            failed = [o.code for o in outcomes if not o.ok]
            assert not failed, f"creating the records in {org} failed: {failed}"
            self.history += [
                Applied(org, row[self.topology.key_field], name, value, acked, creation=True)
                for row in rows
                for name, value in row.items()
                if name != self.topology.key_field
            ]
        self.initial_s = await self.bounded(
            self.everywhere, self.setup.size.converge_within_s, "the records in every org"
        )

    def everywhere(self) -> bool:
        snapshot, key_field = self.snap(), self.topology.key_field
        return all(
            {k for k in self.plan.keys} <= {r.get(key_field) for r in records}
            for records in snapshot.values()
        )

    async def edit(self, worker: Orgsync) -> None:
        self.t0, start = time.time(), time.monotonic()
        kill = asyncio.create_task(_kill_at(worker, start + self.plan.kill_at))
        for planned in self.plan.edits:
            await asyncio.sleep(max(0.0, start + planned.at - time.monotonic()))  # the schedule
            await self.apply(planned)
        await kill
        self.last_edit = time.monotonic()

    async def apply(self, planned: PlannedEdit) -> None:
        record_id = self.record_id(planned.org, planned.key)
        if record_id is None:
            self.skipped.append(f"{planned.org}/{planned.key}: no copy to edit")
            return
        row = {"id": record_id, planned.field: planned.value}
        [outcome] = await insist(partial(self.editors[planned.org].update, MODULE, [row]))
        if not outcome.ok:
            self.skipped.append(f"{planned.org}/{planned.key}: {outcome.code}")
            return
        self.history.append(
            Applied(
                planned.org, planned.key, planned.field, planned.value, time.time(), planned.pair
            )
        )

    def record_id(self, org: str, key: str) -> str | None:
        """The oldest record of the logical record `key` in `org`."""
        records = self.setup.emu.state.orgs[org].stores[MODULE].records.values()
        found = [r for r in records if r.values.get(self.topology.key_field) == key]
        return min(found, key=lambda r: (r.created_s, r.id)).id if found else None

    async def converge(self) -> None:
        within = self.setup.size.converge_within_s
        if await self.bounded(self.agree, within, "every org to agree") is not None:
            self.converge_s = time.monotonic() - self.last_edit

    def agree(self) -> bool:
        return converged(self.topology, self.snap(), self.plan.keys)

    async def quiet(self) -> None:
        """Watch orgsync's writes for `quiet_s` once the orgs agree (or the wait gave up)."""
        emu, seconds = self.setup.emu, self.setup.size.quiet_s
        since = emu.state.now_ms()
        watched = time.monotonic()
        await self.bounded(lambda: time.monotonic() - watched >= seconds, seconds + 5, "quiet")
        self.snapshot = self.snap()
        names = self._names()
        written: Counter[str] = Counter()
        for org in self.topology.names:
            for entry in emu.state.orgs[org].write_log_since(since):
                if entry["client_id"] != client_id(org, EDITOR):
                    written[f"{org}/{names.get(entry['id'], entry['id'])}"] += 1
        self.quiet_writes = dict(written)

    def _names(self) -> dict[str, str]:
        key_field = self.topology.key_field
        return {
            str(r["id"]): str(r.get(key_field))
            for records in self.snapshot.values()
            for r in records
        }

    def orgsync_writes(self) -> int:
        return sum(
            entry["client_id"] != client_id(org, EDITOR)
            for org in self.topology.names
            for entry in self.setup.emu.state.orgs[org].write_log
        )

    def result(
        self, dlq: list[DeadLetter], notifications: dict[str, int], workdir: str
    ) -> RunResult:
        edits = [a for a in self.history if not a.creation]
        return RunResult(
            scenario=self.topology.name,
            seed=self.plan.seed,
            t0=self.t0,
            edits=len(edits),
            pair_edits=sum(a.pair is not None for a in edits),
            skipped_edits=len(self.skipped),
            kill_at_s=self.plan.kill_at,
            initial_sync_s=self.initial_s,
            converge_s=self.converge_s,
            converge_within_s=self.setup.size.converge_within_s,
            findings=judge(self.topology, self.snapshot, self.plan.keys, self.history),
            history=self.history,
            dlq_codes=dict(Counter(f"{d.route}: {d.code}" for d in dlq)),
            quiet_s=self.setup.size.quiet_s,
            quiet_writes=self.quiet_writes,
            orgsync_writes=self.orgsync_writes(),
            notifications=notifications,
            notes=self.notes + self.skipped,
            workdir=workdir,
        )


async def _kill_at(worker: Orgsync, moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))  # the plan's moment of the fault
    worker.kill()
    worker.start()


# --- the DLQ --------------------------------------------------------------------------------------


async def dead_letters(broker: str, topic: str, within: float = 15.0) -> list[DeadLetter]:
    """Every message of `topic` (from its beginning to its end now)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()  # subscribed without a group: every partition, its metadata known
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        return await _read_to(consumer, ends, within)
    finally:
        await consumer.stop()


async def _read_to(
    consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int], within: float
) -> list[DeadLetter]:
    found: list[DeadLetter] = []
    deadline = time.monotonic() + within
    while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
        if time.monotonic() > deadline:
            raise AssertionError(f"could not read the DLQ to its end within {within}s")
        batches = await consumer.getmany(timeout_ms=500)
        found += [DeadLetter.loads(m.value) for ms in batches.values() for m in ms]
    return found
