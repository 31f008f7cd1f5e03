"""`orgsync backfill --config FILE --org NAME --module M [--since TS]`: publish existing records.

Every record of the module (or those modified at or after TS) goes into the `fetched` topic as
a full change (connectors/ingress/backfill.py); a running worker syncs them like live changes
and logs them in `changes`, and dedup drops those a target already has. Progress is saved after
each page, so running the same command again after a crash or Ctrl-C resumes where it stopped
(`--restart` starts over). Reads use the low priority: a backfill yields to live traffic when
the org's credits run low.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any, TextIO

from orgsync.commands import add_config_arguments, iso_time, load_config
from orgsync_kernel.settings import Settings

USAGE, PROBLEM = 2, 1


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "backfill",
        help="publish the existing records of a module into the change log",
        description="Publish every record of a module of a source org (or those modified at "
        "or after --since) into the pipeline; running workers sync them. "
        "Prints progress (done/total, rate, ETA); resumable after a crash.",
    )
    add_config_arguments(parser)
    parser.add_argument("--org", required=True, help="the source org (a name from orgs:)")
    parser.add_argument("--module", required=True, help="a module the org's routes sync")
    parser.add_argument(
        "--since",
        default=None,
        type=parse_since,
        metavar="TS",
        help="only records modified at or after TS (ISO 8601, e.g. "
        "2025-01-31T00:00:00Z; no offset means UTC)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="forget the saved progress of this backfill and start over",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write every record to the targets even when they seem to hold it already: "
        "repairs targets that drifted (hand edits, a restored backup); nothing is duplicated",
    )
    parser.set_defaults(handler=handle)


def parse_since(text: str) -> datetime:
    try:
        return iso_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2025-01-31T00:00:00Z"
        ) from None


def progress_line(
    what: str, done: int, total: int | None, rate: float, finished: bool = False
) -> str:
    """`Leads of src: 400/450 (88.9%)  120.5 records/s  ETA 0:00:01`."""
    count = f"{done}/{total} ({100 * done / total:.1f}%)" if total else f"{done}/?"
    if finished:
        eta = "done"
    elif total and rate > 0:
        eta = f"ETA {_duration(max(total - done, 0) / rate)}"
    else:
        eta = "ETA ?"
    return f"{what}: {count}  {rate:.1f} records/s  {eta}"


def _duration(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ProgressPrinter:
    """One line per page; on a terminal the line is rewritten in place."""

    def __init__(self, what: str, stream: TextIO) -> None:
        self.what, self.stream = what, stream
        self.live = stream.isatty()
        self.pages = 0

    def __call__(self, progress: Any) -> None:
        self.pages += 1
        line = progress_line(
            self.what, progress.done, progress.total, progress.rate, progress.finished
        )
        end = "\n" if progress.finished or not self.live else ""
        self.stream.write(("\r\033[K" if self.live else "") + line + end)
        self.stream.flush()


def usage_problem(settings: Settings, org: str, module: str) -> str | None:
    if org not in settings.orgs:
        return f"unknown org {org!r} (configured: {', '.join(sorted(settings.orgs))})"
    modules = settings.synced_modules(org)
    if module not in modules:
        synced = ", ".join(sorted(modules)) or "none: no route reads from this org"
        return f"no route syncs {module!r} from {org} (synced modules: {synced})"
    return None


def handle(args: argparse.Namespace) -> int:
    import asyncio

    settings = load_config(args)
    if settings is None:
        return USAGE
    problem = usage_problem(settings, args.org, args.module)
    if problem is not None:
        print(f"orgsync backfill: {problem}", file=sys.stderr)
        return USAGE
    return asyncio.run(
        backfill(settings, args.org, args.module, args.since, args.restart, force=args.force)
    )


async def backfill(
    settings: Settings,
    org: str,
    module: str,
    since: datetime | None,
    restart: bool = False,
    out: TextIO = sys.stderr,
    force: bool = False,
) -> int:
    from connectors.ingress import Backfill
    from connectors.kafka import (
        KafkaKV,
        KafkaProducer,
        KafkaUnavailable,
        bootstrap_servers,
        ensure_topics,
    )
    from connectors.zoho import ZohoClient, ZohoError
    from orgsync.orgs import org_connection

    kafka = settings.kafka
    bootstrap = bootstrap_servers(kafka.broker)
    producer = KafkaProducer(bootstrap, client_id="orgsync-backfill")
    started = time.monotonic()
    try:
        async with ZohoClient(org_connection(org, settings.orgs[org])) as client:
            await ensure_topics(
                bootstrap, [settings.topics.fetched], kafka.partitions, kafka.replication_factor
            )
            await producer.start()
            kv = KafkaKV(
                bootstrap, settings.topics.cursors, producer, replication=kafka.replication_factor
            )
            await kv.start()
            total = await client.count(module) if since is None else None
            printer = ProgressPrinter(f"{module} of {org}", out)
            job = Backfill(
                client,
                module,
                producer,
                settings.topics.fetched,
                kv,
                since=since,
                total=total,
                on_progress=printer,
                force=force,
            )
            result = await job.run(restart=restart)
    except ZohoError as error:
        print(f"orgsync backfill: Zoho refused: {error.zoho_code} {error.zoho_message}", file=out)
        return PROBLEM
    except KafkaUnavailable as error:
        print(f"orgsync backfill: {error}", file=out)
        return PROBLEM
    finally:
        await producer.stop()
    if not printer.pages:
        print(
            f"this backfill already finished ({result.done} records); --restart runs it again",
            file=out,
        )
        return 0
    print(
        f"published {result.done} records of {module} from {org} into "
        f"{settings.topics.fetched} in {time.monotonic() - started:.1f}s",
        file=out,
    )
    return 0
