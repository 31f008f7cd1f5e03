"""Runs each system on each workload against one emulator, one after the other.

Every run starts from ``/__emulator/reset`` (empty orgs, zero stats, fresh refresh windows),
so each system sees the same changes on the same latency and limits, alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from . import baselines
from . import stats as st
from .api import Caller
from .arrival import metrics, observe, orgsync_counts, verdict
from .deployment import free_port
from .measure import Observation, stale, summarise
from .processes import Admin, OrgsyncProcess
from .scenario import (
    ORGSYNC_SOURCE,
    ORGSYNC_TARGET,
    PER_RECORD_TARGET,
    SEED_TARGET,
    SOURCE,
    SYNCED_FIELDS,
    TARGET,
    WORKLOAD,
    OrgShape,
    orgsync_config,
    orgsync_env,
    write_yaml,
)
from .workloads import RecordBook, Workload

Outcome = dict[str, Any] | str  # measures, or "not available: <reason>"


@dataclass(frozen=True)
class Options:
    shape: OrgShape
    burst_records: int
    trickle_rate: float
    trickle_seconds: float
    workload_concurrency: int  # concurrent 100-record writes of the generator
    per_record_concurrency: int
    orgsync_timeout_s: float
    workdir: Path
    broker: str


class Bench:
    def __init__(self, options: Options, session: aiohttp.ClientSession, url: str) -> None:
        self.options = options
        self.session = session
        self.url = url
        self.admin = Admin(session, url)
        self.metrics_url = ""  # orgsync's /metrics, once its run is configured

    def caller(self, client: Any) -> Caller:
        return Caller(self.session, self.url, client)

    async def _drive(self, workload: Workload, kind: str) -> None:
        o = self.options
        if kind == "burst":
            await workload.burst(o.burst_records, concurrency=o.workload_concurrency)
        else:
            await workload.trickle(o.trickle_rate, o.trickle_seconds)

    # --- baselines ---------------------------------------------------------------------------

    async def baseline(self, name: str, kind: str) -> Outcome:
        await self.admin.reset()
        before = await self.admin.stats()
        book, finished = RecordBook(), asyncio.Event()
        client = SEED_TARGET if name == "seed-literal" else PER_RECORD_TARGET
        target, source = self.caller(client), self.caller(WORKLOAD)
        feed = baselines.LogFeed(self.admin, SOURCE, WORKLOAD.client_id)
        n = self.options.per_record_concurrency
        job = (
            baselines.seed_literal(feed, finished, book, target, n)
            if name == "seed-literal"
            else baselines.per_record(feed, finished, book, target, n, SYNCED_FIELDS)
        )
        system = asyncio.create_task(job)
        workload = Workload(source, book, f"{name}-{kind}")
        load = asyncio.create_task(self._drive(workload, kind))
        await asyncio.wait({system, load}, return_when=asyncio.FIRST_COMPLETED)
        if system.done() and not load.done():  # cut off: the rest would only fail
            load.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await load
        finished.set()
        run = await system
        after = await self.admin.stats()
        obs = await self._observation(name, workload, (client,), before, after, source)
        if name == "seed-literal":
            obs.target_of, obs.verify, obs.source_ops = run.target_of, False, ("insert",)
        obs.carried = run.carried
        obs.extra.update(events_seen=run.events, failed_writes=run.failed)
        if run.cut_off_at is not None:
            first = min((e["at_ms"] for e in obs.source_log), default=0) / 1000
            obs.extra["cut_off_after_s"] = round(run.cut_off_at - first, 3)
        return summarise(obs)

    async def _observation(
        self,
        system: str,
        workload: Workload,
        clients: tuple[Any, ...],
        before: dict[str, Any],
        after: dict[str, Any],
        source: Caller,
    ) -> Observation:
        view = await observe(self.admin)
        return Observation(
            system=system,
            workload=workload.log,
            clients=clients,
            before=before,
            after=after,
            source_log=await self.admin.log(SOURCE),
            target_log=await self.admin.log(TARGET),
            target_of=view.target_of,
            expected=workload.book.versions(),
            final=view.final,
            arrival=verdict(workload.book.versions(), view),
            workload_throttled=source.throttled,
        )

    # --- orgsync -----------------------------------------------------------------------------

    async def orgsync(self, kind: str) -> Outcome:
        o = self.options
        o.workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.metrics_url = f"http://127.0.0.1:{port}/metrics"
        config = write_yaml(
            o.workdir / f"orgsync-{kind}.yaml",
            orgsync_config(self.url, o.broker, f"bench-{kind}-{int(time.time())}", port, o.shape),
        )
        await self.admin.reset()
        proc = OrgsyncProcess(config, o.workdir / f"orgsync-{kind}.log", orgsync_env())
        await proc.start()
        try:
            return await self._orgsync_run(proc, kind)
        except NotReady as reason:
            return f"not available: {reason}"
        finally:
            await proc.stop()

    async def _orgsync_run(self, proc: OrgsyncProcess, kind: str) -> Outcome:
        startup_refreshes = await self._warm_up(proc)
        await self.admin.reset()  # the probe's traces go; tokens and channels stay
        assert proc.sampler is not None
        proc.sampler.sample()
        cpu_start = proc.sampler.cpu_seconds
        before = await self.admin.stats()
        book, source = RecordBook(), self.caller(WORKLOAD)
        workload = Workload(source, book, f"orgsync-{kind}")
        await self._drive(workload, kind)
        complete = await self._wait_complete(proc, book)
        proc.sampler.sample()
        after = await self.admin.stats()
        obs = await self._observation(
            "orgsync", workload, (ORGSYNC_SOURCE, ORGSYNC_TARGET), before, after, source
        )
        obs.extra.update(
            complete=complete,
            wall_seconds=round(time.time() - workload.log.started, 1),
            cpu_seconds=round(proc.sampler.cpu_seconds - cpu_start, 2),
            peak_rss_mb=round(proc.sampler.peak_rss_mb, 1),
            notifications=st.notification_delta(before, after, SOURCE),
            **orgsync_counts(await metrics(self.session, self.metrics_url)),
        )
        result = summarise(obs)
        result["token_refreshes"] += startup_refreshes
        return result

    async def _warm_up(self, proc: OrgsyncProcess) -> int:
        """One probe lead through the whole path; returns orgsync's token refreshes so far."""

        async def watching() -> bool:  # the ingress has enabled its Notification API channel
            calls = (await self.admin.stats())["orgs"][SOURCE]["calls"]
            return any(
                k.split(" ")[0] in ("POST", "PUT") and k.endswith("/actions/watch")
                for k in calls.get(ORGSYNC_SOURCE.client_id, {})
            )

        await until(
            watching,
            proc,
            self.options.orgsync_timeout_s,
            "a Notification API channel on the source org",
        )
        probe = self.caller(WORKLOAD)
        await probe.call_retrying(
            "POST",
            "/Leads",
            body={
                "data": [
                    {
                        "Last_Name": "Probe",
                        "Email": "probe@bench.example",
                        "Description": "probe v1",
                    }
                ]
            },
        )

        async def arrived() -> bool:
            log = await self.admin.log(TARGET)
            return any(e["client_id"] == ORGSYNC_TARGET.client_id for e in log)

        await until(
            arrived, proc, self.options.orgsync_timeout_s, "the probe lead to reach the target"
        )
        found = await self.admin.stats()
        return sum(
            found["orgs"][c.org].get("token_refreshes", {}).get(c.client_id, 0)
            for c in (ORGSYNC_SOURCE, ORGSYNC_TARGET)
        )

    async def _wait_complete(
        self, proc: OrgsyncProcess, book: RecordBook, quiet_s: float = 2.0
    ) -> bool:
        """Until the target holds every last version, checked after its writes go quiet."""
        deadline = time.monotonic() + self.options.orgsync_timeout_s
        seen, quiet_from = (0, -1), time.monotonic()  # (newest at_ms, entries at or after it)
        while time.monotonic() < deadline:
            entries = await self.admin.log(TARGET, seen[0])
            now = time.monotonic()
            latest = (entries[-1]["at_ms"], len(entries)) if entries else seen
            if latest != seen:
                seen, quiet_from = latest, now
            elif now - quiet_from >= quiet_s:
                if stale(book.versions(), (await observe(self.admin)).final) == 0:
                    return True
                quiet_from = time.monotonic()
            if not proc.alive():
                raise NotReady(f"orgsync run exited during the run: {last_line(proc.tail())}")
            await asyncio.sleep(0.25)
        return False


class NotReady(Exception):
    """orgsync could not be brought to a working state; the message says why."""


async def until(
    check: Callable[[], Awaitable[bool]], proc: OrgsyncProcess, within: float, what: str
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if not proc.alive():
            raise NotReady(f"orgsync run exited before {what}: {last_line(proc.tail())}")
        if time.monotonic() > deadline:
            raise NotReady(
                f"timed out after {within:.0f} s waiting for {what} (log: {last_line(proc.tail())})"
            )
        await asyncio.sleep(0.2)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
