"""`orgsync dlq list|show|retry|purge --config FILE`: inspect and retry what failed for good.

Entries live in the `<prefix>.dlq` topic; what was retried or purged is kept in the compacted
`<prefix>.dlq.state` topic, so those entries leave `list` everywhere (see
orgsync_operations/dlq.py for how a retry picks between re-reading the source record and
re-sending the failed write).
Exit codes: 0 ok; 1 an unknown entry, a retry that could not be published, Kafka unreachable;
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orgsync.commands import (
    DONE,
    FORMATS,
    PROBLEM,
    USAGE,
    add_config_arguments,
    add_format,
    add_route,
    load_config,
    print_json,
)

if TYPE_CHECKING:
    from orgsync_kernel.settings import Settings
    from orgsync_operations.dlq import DlqStore, Entry
COLUMNS = ("id", "route", "stage", "key", "code", "message", "failed_at", "attempts")
MESSAGE_WIDTH = 60


def register(commands: Any) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="list, show, retry or purge dead letters",
        description="Inspect and retry the records that failed for good (the dead-letter "
        "queue). Retried and purged entries leave the list.",
    )
    actions = dlq.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = _action(actions, "list", "list the open entries, newest first")
    add_route(listing, "only this route")
    show = _action(actions, "show", "print one entry in full (JSON)", formats=("json",))
    show.add_argument("id", help="the entry id (from `list`)")
    for name, help_text in (
        ("retry", "re-publish entries so the pipeline syncs them again"),
        ("purge", "drop entries from the list without retrying them"),
    ):
        parser = _action(actions, name, help_text)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("id", nargs="?", help="the entry id (from `list`)")
        which.add_argument("--all", action="store_true", help="every open entry")
        add_route(parser, "with --all: only this route")


def _action(
    actions: Any, name: str, help_text: str, formats: tuple[str, ...] = FORMATS
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=help_text, description=help_text
    )
    add_config_arguments(parser, log_level="error")
    add_format(parser, formats)
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace) -> int:
    from connectors.kafka.cluster import KafkaUnavailable

    settings = load_config(args)
    if settings is None:
        return USAGE
    try:
        return asyncio.run(_with_store(settings, ACTIONS[args.action], args))
    except KafkaUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return PROBLEM


Action = Callable[["Settings", "DlqStore", argparse.Namespace], Awaitable[int]]


async def _with_store(settings: Settings, action: Action, args: argparse.Namespace) -> int:
    from connectors.kafka import KafkaProducer
    from connectors.kafka.cluster import KafkaCluster
    from orgsync_operations.dlq import DlqStore

    producer = KafkaProducer(KafkaCluster.of(settings.kafka), timeout=10.0, client_id="orgsync-dlq")
    await producer.start()
    store = DlqStore(settings, producer)
    try:
        await store.start()
        return await action(settings, store, args)
    finally:
        await store.close()
        await producer.stop()


def _route_name(args: argparse.Namespace) -> str | None:
    return args.route.name if args.route else None


async def list_entries(settings: Settings, store: DlqStore, args: argparse.Namespace) -> int:
    entries = store.entries(_route_name(args))
    if args.format == "json":
        print_json([e.summary() for e in entries])
    else:
        print(render_table([_row(e) for e in entries]))
        print(f"{len(entries)} open entr{'y' if len(entries) == 1 else 'ies'}")
    return DONE


async def show_entry(settings: Settings, store: DlqStore, args: argparse.Namespace) -> int:
    import orjson

    entry = store.get(args.id)
    if entry is None:
        print(f"no DLQ entry {args.id}", file=sys.stderr)
        return PROBLEM
    body = {**entry.to_json(), "failed_at_utc": _when(entry.letter.failed_at)}
    print(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
    return DONE


async def retry_entries(settings: Settings, store: DlqStore, args: argparse.Namespace) -> int:
    from orgsync_operations.dlq import Retrier

    entries = _chosen(store, args)
    if entries is None:
        return PROBLEM
    async with _source_clients(settings, entries) as readers:
        report = await Retrier(store, readers).retry(entries)
    if args.format == "json":
        print_json({"retried": report.done, "failed": report.failed})
    else:
        for entry_id, via in report.done.items():
            print(f"retried {entry_id} ({'the failed write' if via == 'write' else 're-read'})")
        for entry_id, why in report.failed.items():
            print(f"not retried {entry_id}: {why}", file=sys.stderr)
        print(f"{len(report.done)} retried, {len(report.failed)} failed")
    return PROBLEM if report.failed else DONE


async def purge_entries(settings: Settings, store: DlqStore, args: argparse.Namespace) -> int:
    entries = _chosen(store, args)
    if entries is None:
        return PROBLEM
    await store.mark([e.id for e in entries], "purged")
    if args.format == "json":
        print_json({"purged": [e.id for e in entries]})
    else:
        print(f"{len(entries)} purged")
    return DONE


ACTIONS: dict[str, Action] = {
    "list": list_entries,
    "show": show_entry,
    "retry": retry_entries,
    "purge": purge_entries,
}


def _chosen(store: DlqStore, args: argparse.Namespace) -> list[Entry] | None:
    if args.all:
        return store.entries(_route_name(args))
    entry = store.get(args.id)
    if entry is None:
        print(f"no DLQ entry {args.id}", file=sys.stderr)
        return None
    return [entry]


@asynccontextmanager
async def _source_clients(
    settings: Settings,
    entries: Sequence[Entry],
) -> AsyncIterator[dict[str, Any]]:
    """Started Zoho clients of the source orgs of write entries (only those are read)."""
    from connectors.zoho import ZohoMetrics
    from orgsync.orgs import deployment_clients

    orgs = {e.letter.key.split("/", 1)[0] for e in entries if e.letter.stage == "write"}
    metrics = ZohoMetrics.create()
    wanted = orgs & set(settings.orgs)
    async with deployment_clients(settings, wanted, "dlq retry", metrics=metrics) as clients:
        yield clients


def _row(entry: Entry) -> dict[str, str]:
    row = {k: str(v) for k, v in entry.summary().items()}
    row["failed_at"] = _when(entry.letter.failed_at)
    message = row["message"].replace("\n", " ")
    row["message"] = (
        message if len(message) <= MESSAGE_WIDTH else message[: MESSAGE_WIDTH - 1] + "…"
    )
    return row


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_table(rows: Sequence[dict[str, str]]) -> str:
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
