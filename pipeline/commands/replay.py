"""`orgsync replay --config FILE --from TS [--route SRC:TGT] [--dry-run]`: re-sync from history.

Moves the pipeline's consumer group on the `changes` topic back to the first change at or after
TS (Kafka's offsets-for-times on the message timestamps), so the workers process those changes
again when they start. Decisions (docs/operations.md, "Replay"):

- Workers must be stopped. Kafka accepts new committed offsets for a group only while it has no
  active member; rewinding inside running workers would race their in-flight commits. The
  command asks the broker for the group's members and refuses (exit 1) while any is connected.
- Offsets only move back. A partition whose committed offset is already before TS, or that the
  group never committed (its workers start from the beginning anyway), is left alone, so a replay
  can never skip a change that was not processed yet.
- Re-syncing is safe: the processor's dedup state is kept per route, so a route added since (a
  new target) finds no state and receives every replayed change, while routes that already
  wrote a record drop the replayed copy as a duplicate (no API call). The sink upserts on the
  match field, so anything written twice lands once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from pipeline.settings import Route, Settings

USAGE, PROBLEM = 2, 1


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay", help="re-sync from the change log, starting at a time (workers stopped)",
        description="Rewind the workers' consumer group on the changes topic to the first "
                    "change at or after --from, so that they sync from there again when "
                    "started. Stop the workers first. This is how a new target route is filled "
                    "from the topic history; writes are idempotent upserts.")
    parser.add_argument("--config", required=True, help="the YAML/JSON configuration file")
    parser.add_argument("--secrets-file", default=None, help="a 0600 file with the ${VARIABLES}")
    parser.add_argument("--from", dest="since", required=True, type=parse_time, metavar="TS",
                        help="ISO 8601 time (no offset means UTC) or Unix seconds; 0 replays "
                             "the whole topic")
    parser.add_argument("--route", default=None, metavar="SRC:TGT",
                        help="the route the replay is for (must be configured); other routes "
                             "skip what they already synced")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be rewound, change nothing")
    parser.set_defaults(handler=handle)


def parse_time(text: str) -> datetime:
    text = text.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2025-01-31T12:00:00Z) or Unix seconds"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_route(settings: Settings, spec: str) -> Route:
    source, sep, target = spec.partition(":")
    for route in settings.sync:
        if sep and (route.source, route.target) == (source, target):
            return route
    known = ", ".join(f"{r.source}:{r.target}" for r in settings.sync)
    raise ValueError(f"no route {spec!r} in the configuration (routes: {known})")


@dataclass(frozen=True)
class Move:
    partition: int
    committed: int  # -1: never committed
    target: int  # first offset at or after the time
    end: int

    @property
    def new(self) -> int | None:
        """The offset to commit, or None to leave the partition as it is."""
        if self.committed < 0 or self.target >= self.committed:
            return None
        return self.target

    @property
    def replayed(self) -> int:
        return 0 if self.new is None else self.end - self.new


def plan(targets: Mapping[int, int], committed: Mapping[int, int],
         ends: Mapping[int, int]) -> list[Move]:
    return [Move(p, committed.get(p, -1), targets[p], ends[p]) for p in sorted(targets)]


def describe(moves: list[Move], topic: str) -> list[str]:
    lines = [f"{'PARTITION':<10} {'COMMITTED':>10} {'NEW':>10} {'END':>10} {'REPLAYED':>9}"]
    for m in moves:
        committed = str(m.committed) if m.committed >= 0 else "-"
        new = str(m.new) if m.new is not None else "(kept)"
        lines.append(f"{m.partition:<10} {committed:>10} {new:>10} {m.end:>10} {m.replayed:>9}")
    lines.append(f"{sum(m.replayed for m in moves)} changes of {topic} will be processed again")
    return lines


def handle(args: argparse.Namespace) -> int:
    import asyncio

    from pipeline.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config, secrets_file=args.secrets_file)
        route = find_route(settings, args.route) if args.route else None
    except (ConfigError, ValueError) as error:
        print(f"orgsync replay: {error}", file=sys.stderr)
        return USAGE
    return asyncio.run(replay(settings, args.since, route, dry_run=args.dry_run))


async def replay(settings: Settings, since: datetime, route: Route | None = None, *,
                 dry_run: bool = False, out: TextIO = sys.stdout) -> int:
    from aiokafka.errors import KafkaError

    from connectors.kafka import bootstrap_servers
    from pipeline.offsets import GroupOffsets, group_id

    group, topic = group_id(settings), settings.topics.changes
    try:
        async with GroupOffsets(bootstrap_servers(settings.kafka.broker), group) as offsets:
            members = await offsets.members()
            if members:
                print(running_workers(group, members), file=sys.stderr)
                return PROBLEM
            tps = await offsets.partitions([topic])
            if not tps:
                print(f"orgsync replay: topic {topic} does not exist: nothing to replay",
                      file=sys.stderr)
                return PROBLEM
            targets = await offsets.offsets_at(tps, int(since.timestamp() * 1000))
            committed, ends = await offsets.committed(), await offsets.ends(tps)
            moves = plan({tp.partition: o for tp, o in targets.items()},
                         {tp.partition: o for tp, o in committed.items() if tp.topic == topic},
                         {tp.partition: o for tp, o in ends.items()})
            print("\n".join(describe(moves, topic)), file=out)
            new = {tp: m.new for tp, m in zip(tps, moves, strict=True) if m.new is not None}
            if not dry_run and new:
                await offsets.commit(new)
    except (KafkaError, TimeoutError, OSError) as error:
        print(f"orgsync replay: Kafka did not answer: {type(error).__name__}", file=sys.stderr)
        return PROBLEM
    print(outcome(since, route, dry_run, bool(new)), file=out)
    return 0


def running_workers(group: str, members: list[Any]) -> str:
    who = ", ".join(sorted({f"{m.client_id}@{m.host.lstrip('/')}" for m in members}))
    return (f"orgsync replay: {len(members)} worker(s) are running in consumer group {group} "
            f"({who}). Kafka moves a group's offsets only while none is connected: stop the "
            "workers (SIGTERM), run the replay, then start them again.")


def outcome(since: datetime, route: Route | None, dry_run: bool, moved: bool) -> str:
    if dry_run:
        return "dry run: nothing changed"
    if not moved:
        return f"nothing to rewind: no processed change at or after {since.isoformat()}"
    scope = (f"route {route.source}:{route.target} receives every replayed change it has not "
             "synced yet; other routes skip what they already wrote" if route is not None else
             "every route receives the replayed changes it has not synced yet")
    return f"rewound to {since.isoformat()}: {scope}. Start the workers to sync."
