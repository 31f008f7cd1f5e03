"""`orgsync backfill --config FILE (--org NAME --module M | --route SRC:TGT [--module M])`.

Every record of a module (or those modified at or after `--since`) goes into the `fetched` topic
as a full change (connectors/ingress/backfill.py); a running worker syncs them like live changes
and logs them in `changes`, and dedup drops those a target already has (`--force`: it does not).
With `--route` and no `--module`, every module of the route is backfilled, parents first (the
modules its lookups point to: Accounts before Contacts before Deals), and each waits until the
workers have taken in the module before it (bounded). Progress is saved after each page, so
running the same command again after a crash or Ctrl-C resumes where it stopped (`--restart`
starts over). Reads use the low priority: a backfill yields to live traffic when the org's
credits run low.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from orgsync.commands import (
    USAGE,
    add_config_arguments,
    add_route,
    find_route,
    iso_time,
    load_config,
)
from orgsync.commands.backfill_run import BULK_AUTO_ABOVE, BackfillRun
from orgsync_kernel.settings import Route, Settings


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "backfill",
        help="publish the existing records of a module into the change log",
        description="Publish every record of a module of a source org (or those modified at "
        "or after --since) into the pipeline; running workers sync them. "
        "Prints progress (done/total, rate, ETA); resumable after a crash.",
    )
    add_config_arguments(parser)
    parser.add_argument("--org", default=None, help="the source org (a name from orgs:)")
    parser.add_argument(
        "--module",
        default=None,
        help="a module the org's routes sync; with --route and without it: all of the "
        "route's modules, parents first",
    )
    add_route(parser, "backfill the modules of this route (its source org), parents first")
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
        "--bulk",
        choices=("auto", "always", "never"),
        default="auto",
        help="read through Bulk Read jobs (50 credits per 200,000 records) instead of list "
        f"pages (1 credit per 200); auto: when the module holds more than {BULK_AUTO_ABOVE:,}",
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


def usage_problem(settings: Settings, org: str, module: str) -> str | None:
    if org not in settings.orgs:
        return f"unknown org {org!r} (configured: {', '.join(sorted(settings.orgs))})"
    modules = settings.synced_modules(org)
    if module not in modules:
        synced = ", ".join(sorted(modules)) or "none: no route reads from this org"
        return f"no route syncs {module!r} from {org} (synced modules: {synced})"
    return None


def what_to_backfill(settings: Settings, args: argparse.Namespace) -> tuple[str, Route | None]:
    """The source org, and the route whose modules to order (None: `--module` alone);
    ValueError with the usage problem."""
    if args.route is None:
        if args.org is None or args.module is None:
            raise ValueError("give --org and --module, or --route SRC:TGT")
        problem = usage_problem(settings, args.org, args.module)
        if problem:
            raise ValueError(problem)
        return args.org, None
    route = find_route(settings, args.route)
    if args.org not in (None, route.source):
        raise ValueError(f"--org {args.org} is not the source of the route {args.route}")
    if args.module is not None and args.module not in route.modules:
        raise ValueError(f"the route {args.route} does not sync {args.module!r}")
    return route.source, None if args.module else route


def handle(args: argparse.Namespace) -> int:
    import asyncio

    settings = load_config(args)
    if settings is None:
        return USAGE
    try:
        org, route = what_to_backfill(settings, args)
    except ValueError as problem:
        print(f"orgsync backfill: {problem}", file=sys.stderr)
        return USAGE
    job = BackfillRun(settings, org, args.since, args.restart, args.force, bulk=args.bulk)
    return asyncio.run(job.run([args.module] if route is None else route))
