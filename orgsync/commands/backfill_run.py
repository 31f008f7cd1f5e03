"""One `orgsync backfill` run (orgsync/commands/backfill.py): the source org's client, the
producer and the saved progress, shared by the modules it backfills one after the other.

Between two modules it waits until the workers' committed offsets on `fetched` reach what it
published, so that parents are in the targets before their children arrive; when the workers
make no progress for `WORKER_WAIT_SECONDS` (none running, say) it goes on: children then wait
for their parents in the pipeline (`processor.parent_wait_seconds`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any, TextIO

from orgsync.commands import DONE, PROBLEM
from orgsync_kernel.settings import Route, Settings

if TYPE_CHECKING:
    from connectors.kafka import KafkaKV, KafkaProducer
    from connectors.kafka.cluster import KafkaCluster
    from connectors.zoho import ZohoClient
    from connectors.zoho.limits import ReserveWait

# Bulk Read costs 50 credits a job, list pages 1 credit per 200 records: the same at 10,000.
BULK_AUTO_ABOVE = 10_000
WORKER_WAIT_SECONDS = 60.0
POLL_SECONDS = 1.0


def progress_line(
    what: str,
    done: int,
    total: int | None,
    rate: float,
    finished: bool = False,
    held: float | None = None,
) -> str:
    """`Leads of src: 400/450 (88.9%)  120.5 records/s  ETA 0:00:01`; `held`: seconds left
    at the credit reserve, said and counted in the ETA."""
    from connectors.zoho.limits import hms

    count = f"{done}/{total} ({100 * done / total:.1f}%)" if total else f"{done}/?"
    wait = held or 0.0
    if finished:
        eta = "done"
    elif total and rate > 0:
        eta = f"ETA {hms(wait + max(total - done, 0) / rate)}"
    else:
        eta = f"ETA {hms(wait)} + ?" if wait else "ETA ?"
    state = "waiting at the credit reserve" if held is not None else f"{rate:.1f} records/s"
    return f"{what}: {count}  {state}  {eta}"


class ProgressPrinter:
    """On a terminal a progress bar (tqdm); elsewhere one plain line per page (logs, pipes).
    Also a ledger observer: while the backfill waits at the credit reserve it says so, with
    an ETA that counts the wait (a line when the wait starts and every minute of it)."""

    def __init__(self, what: str, stream: TextIO) -> None:
        from tqdm import tqdm

        self.what, self.stream = what, stream
        self.bar = tqdm(desc=what, unit=" records", file=stream) if stream.isatty() else None
        self.pages = 0
        self.last: Any = None

    def __call__(self, progress: Any) -> None:
        self.pages += 1
        self.last = progress
        if self.bar is None:
            self._line(progress.done, progress.total, progress.rate, progress.finished)
            return
        if progress.total:
            self.bar.total = progress.total
        self.bar.update(progress.done - self.bar.n)
        if progress.finished:
            self.bar.close()

    def held(self, wait: ReserveWait) -> None:
        last = self.last
        done, total, rate = (last.done, last.total, last.rate) if last else (0, None, 0.0)
        if self.bar is not None:
            self.bar.set_postfix_str(f"waiting at the credit reserve {_eta(wait.seconds)}")
            return
        self._line(done, total, rate, held=wait.seconds)

    def slept(self, seconds: float) -> None:
        pass

    def _line(self, *args: Any, **kwargs: Any) -> None:
        self.stream.write(progress_line(self.what, *args, **kwargs) + "\n")
        self.stream.flush()


def _eta(seconds: float) -> str:
    from connectors.zoho.limits import hms

    return f"(resumes in {hms(seconds)} at the earliest)"


class BackfillRun:
    def __init__(
        self,
        settings: Settings,
        org: str,
        since: datetime | None,
        restart: bool = False,
        force: bool = False,
        out: TextIO = sys.stderr,
        bulk: str = "auto",
    ) -> None:
        self.settings = settings
        self.org = org
        self.since = since
        self.restart = restart
        self.force = force
        self.out = out
        self.bulk = bulk

    async def run(self, what: list[str] | Route) -> int:
        """Backfill these modules in this order, or every module of the route, parents first."""
        from connectors.kafka import KafkaKV, KafkaProducer
        from connectors.kafka.cluster import KafkaUnavailable, ensure_topics
        from connectors.zoho import ZohoError
        from orgsync.orgs import deployment_clients

        kafka, topics = self.settings.kafka, self.settings.topics
        cluster = self.cluster
        producer = KafkaProducer(cluster, client_id="orgsync-backfill")
        try:
            async with deployment_clients(self.settings, [self.org], "backfill") as clients:
                client = clients[self.org]
                await ensure_topics(cluster, [topics.fetched], kafka.partitions)
                await producer.start()
                kv = KafkaKV(cluster, topics.cursors, producer)
                await kv.start()
                modules = what if isinstance(what, list) else await self._ordered(client, what)
                for n, module in enumerate(modules):
                    if n:
                        await self._wait_for_workers(modules[n - 1], module)
                    await self._module(client, producer, kv, module)
        except ZohoError as error:
            print(
                f"orgsync backfill: Zoho refused: {error.zoho_code} {error.zoho_message}",
                file=self.out,
            )
            return PROBLEM
        except KafkaUnavailable as error:
            print(f"orgsync backfill: {error}", file=self.out)
            return PROBLEM
        finally:
            await producer.stop()
        return DONE

    @property
    def cluster(self) -> KafkaCluster:
        from connectors.kafka.cluster import KafkaCluster

        return KafkaCluster.of(self.settings.kafka)

    async def _ordered(self, client: ZohoClient, route: Route) -> list[str]:
        modules = list(route.modules)
        fields = dict(zip(modules, await asyncio.gather(*map(client.fields, modules)), strict=True))
        ordered = parents_first(modules, fields)
        print(f"backfilling {', '.join(ordered)} of {self.org} (parents first)", file=self.out)
        return ordered

    async def _module(
        self, client: ZohoClient, producer: KafkaProducer, kv: KafkaKV, module: str
    ) -> None:
        from connectors.ingress import Backfill

        started = time.monotonic()
        total = await client.count(module) if self.since is None else None
        bulk = self.bulk == "always" or (
            self.bulk == "auto" and total is not None and total > BULK_AUTO_ABOVE
        )
        if bulk:
            print(f"{module} of {self.org}: reading through Bulk Read jobs", file=self.out)
        printer = ProgressPrinter(f"{module} of {self.org}", self.out)
        client.ledger.observers.append(printer)
        job = Backfill(
            client,
            module,
            producer,
            self.settings.topics.fetched,
            kv,
            since=self.since,
            total=total,
            on_progress=printer,
            force=self.force,
            bulk=bulk,
        )
        try:
            result = await job.run(restart=self.restart)
        finally:
            client.ledger.observers.remove(printer)
        if not printer.pages:
            print(
                f"the backfill of {module} already finished ({result.done} records); "
                "--restart runs it again",
                file=self.out,
            )
            return
        print(
            f"published {result.done} records of {module} from {self.org} into "
            f"{self.settings.topics.fetched} in {time.monotonic() - started:.1f}s",
            file=self.out,
        )

    async def _wait_for_workers(self, parent: str, child: str) -> None:
        """Until the workers took in everything published so far (bounded, see the module)."""
        from orgsync_operations.offsets import GroupOffsets

        topic = self.settings.topics.fetched
        async with GroupOffsets(self.cluster, self.settings.topics.rounds_group) as group:
            tps = await group.partitions([topic])
            ends, starts = await group.ends(tps), await group.starts(tps)
            best, since = None, time.monotonic()
            while time.monotonic() - since < WORKER_WAIT_SECONDS:
                committed = await _committed(group)
                left = sum(end - max(committed.get(tp, -1), starts[tp]) for tp, end in ends.items())
                if left <= 0:
                    return
                if best is None or left < best:
                    best, since = left, time.monotonic()
                    print(
                        f"waiting for the workers to sync {parent} before {child}: {left} left",
                        file=self.out,
                    )
                await asyncio.sleep(POLL_SECONDS)
        print(
            f"the workers took in no more of {parent} for {WORKER_WAIT_SECONDS:.0f}s: going on; "
            f"a {child} record whose parent is not synced yet waits for it in the pipeline",
            file=self.out,
        )


async def _committed(group: Any) -> dict[Any, int]:
    """The group's committed offsets; none yet while the broker cannot name the group's
    coordinator (a fresh broker creates its offsets topic on the first ask)."""
    from connectors.kafka import KafkaError

    try:
        found: dict[Any, int] = await group.committed()
    except KafkaError as error:
        if not getattr(error, "retriable", False):
            raise
        return {}
    return found


def parents_first(
    modules: Sequence[str], fields: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[str]:
    """`modules` ordered so that a module comes after those its lookup fields point to; in
    the given order where lookups do not decide (or run in a circle)."""
    order = TopologicalSorter(
        {
            m: [p for p in _lookup_modules(fields.get(m, ())) if p in modules and p != m]
            for m in modules
        }
    )
    try:
        return list(order.static_order())
    except CycleError:
        return list(modules)


def _lookup_modules(fields: Sequence[Mapping[str, Any]]) -> list[str]:
    from pipeline.mapping.transforms import FieldMeta

    return [FieldMeta.from_zoho(meta).lookup_module or "" for meta in fields]
