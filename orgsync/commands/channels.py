"""`orgsync channels list|renew --config FILE`: the Notification API channels per source org.

`list` asks each source org for its channels (watch_get) and sets them beside the ones orgsync
keeps in `<prefix>.channels`: channel id, module/events, expiry, notify URL and whether it is
ours, never its token. `renew` renews every channel of ours now (and creates the missing ones,
with the ChannelManager the ingress uses), then lists. Exit 1 when a synced module has no live
channel of ours or an org does not answer; 2 for a bad configuration (or `renew` without
`ingress.public_url`: then orgsync uses no channels).

A running ingress reads channel tokens at start: a channel that `renew` had to *create* is only
accepted by ingress processes started afterwards (renewing an existing one keeps its token).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from orgsync.commands import (
    DONE,
    PROBLEM,
    USAGE,
    add_config_arguments,
    add_format,
    load_config,
    print_json,
)

if TYPE_CHECKING:
    from connectors.ingress import ChannelState
    from connectors.kafka import KafkaKV
    from connectors.zoho import ZohoClient
    from orgsync_kernel.settings import Settings
COLUMNS = ("org", "module", "channel_id", "events", "expiry", "notify_url", "status")
LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class Row:
    org: str
    module: str
    channel_id: str
    events: str
    expiry: str
    notify_url: str
    status: str  # ours | other | missing | error


def register(commands: Any) -> None:
    channels = commands.add_parser(
        "channels",
        help="list or renew the Notification API channels",
        description="List the Notification API channels of each source org, or renew ours now.",
    )
    actions = channels.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (
        ("list", "list the channels of each source org (never a token)"),
        ("renew", "renew (or create) our channels now, then list them"),
    ):
        parser = actions.add_parser(name, help=help_text, description=help_text)
        add_config_arguments(parser, log_level="error")
        add_format(parser)
        parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from connectors.kafka.cluster import KafkaUnavailable

    settings = load_config(args)
    if settings is None:
        return USAGE
    if args.action == "renew" and settings.ingress.public_url is None:
        print(
            "ingress.public_url is not set: orgsync uses no Notification API channels",
            file=sys.stderr,
        )
        return USAGE
    try:
        rows = asyncio.run(_run(settings, renew=args.action == "renew"))
    except KafkaUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return PROBLEM
    if args.format == "json":
        print_json([asdict(row) for row in rows])
    else:
        print(render_table(rows))
    return PROBLEM if any(row.status in ("missing", "error") for row in rows) else DONE


async def _run(settings: Settings, *, renew: bool) -> list[Row]:
    from connectors.ingress import ChannelManager
    from connectors.kafka import KafkaKV, KafkaProducer
    from connectors.kafka.cluster import KafkaCluster
    from orgsync.orgs import deployment_clients

    orgs = [org for org in settings.orgs if settings.synced_modules(org)]
    producer = KafkaProducer(
        KafkaCluster.of(settings.kafka), timeout=10.0, client_id="orgsync-channels"
    )
    await producer.start()
    try:
        async with deployment_clients(settings, orgs, "channels") as clients:
            kv = KafkaKV(producer.cluster, settings.topics.channels, producer)
            await kv.start()
            if renew:  # every channel counts as expiring: renewed (or created) now
                manager = ChannelManager(
                    settings.ingress.public_url,
                    settings.watched,
                    clients,
                    kv,
                    lifetime=LIFETIME,
                    renew_before=LIFETIME,
                )
                await manager.load()
                await manager.check()
            return await list_rows(settings, clients, kv)
    finally:
        await producer.stop()


async def list_rows(
    settings: Settings,
    clients: Mapping[str, ZohoClient],
    kv: KafkaKV,
) -> list[Row]:
    from connectors.ingress import ChannelState
    from connectors.ingress.channels import KEY_PREFIX
    from connectors.zoho import ZohoError

    ours = [ChannelState.from_json(data) for _, data in kv.items(KEY_PREFIX)]
    rows: list[Row] = []
    for org in sorted(clients):
        try:
            listed = await clients[org].watch_get()
        except ZohoError as error:
            rows.append(Row(org, "", "", "", "", "", f"error: {error.zoho_code}"))
            continue
        rows += _org_rows(settings, org, listed, [s for s in ours if s.org == org])
    return rows


def _org_rows(
    settings: Settings, org: str, listed: Sequence[Mapping[str, Any]], ours: Sequence[ChannelState]
) -> list[Row]:
    by_id = {s.channel_id: s for s in ours}
    rows = []
    for channel in listed:
        channel_id = str(channel.get("channel_id"))
        state = by_id.get(channel_id)
        module = state.module if state else str(channel.get("resource_name") or "")
        rows.append(
            Row(
                org,
                module,
                channel_id,
                ",".join(channel.get("events") or []),
                str(channel.get("channel_expiry") or ""),
                str(channel.get("notify_url") or ""),
                "ours" if state else "other",
            )
        )
    if settings.ingress.public_url is not None:
        live = {row.module for row in rows if row.status == "ours"}
        rows += [
            Row(org, module, "", "", "", "", "missing")
            for module in sorted(settings.synced_modules(org) - live)
        ]
    return rows


def render_table(rows: Sequence[Row]) -> str:
    values = [[str(getattr(row, c)) for c in COLUMNS] for row in rows]
    widths = [max([len(c), *(len(v[i]) for v in values)]) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) for vals in values]
    return "\n".join(line.rstrip() for line in lines)
