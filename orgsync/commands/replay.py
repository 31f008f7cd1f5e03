"""`orgsync replay --config FILE --from TS [--route SRC:TGT] [--dry-run]`: re-sync from history.

Finds, per partition of the `changes` topic, the first change at or after TS (Kafka's
offsets-for-times on the message timestamps) and appends every change from there to the end of
the topic to `fetched`, in order, to the same partition number (the round loop's input of
records already read). The running workers process the copies like any change, and log them in
`changes` again. Decisions (docs/operations.md, "Replay"):

- The log is re-appended, not rewound. Moving the workers' committed offsets back needs them
  stopped (Kafka accepts new offsets only for a group without members), and a Faust worker does
  not seek to a committed offset of 0 (aiokafka's `seek_to_committed` skips it), so a rewind to
  the start of a topic would be silently ignored. Re-appending works with the workers running,
  and scaled out, and cannot skip anything.
- Re-syncing is safe and cheap: the processor's dedup state is kept per route, so a route added
  since (a new target) finds no state and receives every replayed change, while routes that
  already synced a record drop the older or identical copy as stale or duplicate (no API call);
  a newer live change of a record always wins over its replayed copy. The sink upserts on the
  match field, so anything written twice lands once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from connectors.kafka.cluster import KafkaCluster

from orgsync.commands import (
    DONE,
    PROBLEM,
    USAGE,
    add_config_arguments,
    add_format,
    add_route,
    find_route,
    iso_time,
    print_json,
)
from orgsync_kernel.settings import Route, Settings

SEND_BATCH = 500


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="re-sync from the change log, starting at a time",
        description="Append every change of the changes topic from the first one at or after "
        "--from again, so that the running workers sync them again. Routes skip "
        "what they already synced; this is how a new target route is filled from "
        "the topic history. Writes are idempotent upserts.",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--from",
        dest="since",
        required=True,
        type=parse_time,
        metavar="TS",
        help="ISO 8601 time (no offset means UTC) or Unix seconds; 0 replays the whole topic",
    )
    add_route(
        parser,
        "the route the replay is for (must be configured); only changes of its source org "
        "are replayed",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be replayed, change nothing"
    )
    add_format(parser)
    parser.set_defaults(handler=handle)


def parse_time(text: str) -> datetime:
    text = text.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        return iso_time(text)
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2025-01-31T12:00:00Z) or Unix seconds"
        ) from None


@dataclass(frozen=True)
class Window:
    partition: int
    start: int  # first offset at or after the time
    end: int  # end offset when the replay began: later changes are live ones

    @property
    def size(self) -> int:
        return max(self.end - self.start, 0)


def windows(starts: Mapping[int, int], ends: Mapping[int, int]) -> list[Window]:
    return [Window(p, starts[p], ends[p]) for p in sorted(starts)]


def describe(found: list[Window], topic: str) -> list[str]:
    lines = [f"{'PARTITION':<10} {'FROM':>10} {'TO':>10} {'CHANGES':>9}"]
    lines += [f"{w.partition:<10} {w.start:>10} {w.end:>10} {w.size:>9}" for w in found]
    lines.append(f"{sum(w.size for w in found)} changes of {topic} at or after the time")
    return lines


def wanted(key: bytes | None, source: str | None) -> bool:
    """With a route, only the changes of its source org (keys are `org/module/id`)."""
    return source is None or (key is not None and key.startswith(f"{source}/".encode()))


def handle(args: argparse.Namespace) -> int:
    import asyncio

    from orgsync_kernel.config_file import ConfigError, load_settings

    try:
        settings = load_settings(args.config, secrets_file=args.secrets_file)
        route = find_route(settings, args.route) if args.route else None
    except (ConfigError, ValueError) as error:
        print(f"orgsync replay: {error}", file=sys.stderr)
        return USAGE
    return asyncio.run(
        replay(settings, args.since, route, dry_run=args.dry_run, json=args.format == "json")
    )


async def replay(
    settings: Settings,
    since: datetime,
    route: Route | None = None,
    *,
    dry_run: bool = False,
    json: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    from connectors.kafka import KafkaError
    from connectors.kafka.cluster import KafkaCluster
    from orgsync_operations.offsets import GroupOffsets

    cluster, topic = KafkaCluster.of(settings.kafka), settings.topics.changes
    try:
        async with GroupOffsets(cluster, settings.topics.group) as offsets:
            tps = await offsets.partitions([topic])
            if not tps:
                print(
                    f"orgsync replay: topic {topic} does not exist: nothing to replay",
                    file=sys.stderr,
                )
                return PROBLEM
            starts = await offsets.offsets_at(tps, int(since.timestamp() * 1000))
            ends = await offsets.ends(tps)
        found = windows(
            {tp.partition: o for tp, o in starts.items()},
            {tp.partition: o for tp, o in ends.items()},
        )
        if not json:
            print("\n".join(describe(found, topic)), file=out)
        copied = None
        if not dry_run:
            copied = await append_again(
                cluster, topic, settings.topics.fetched, found, route.source if route else None
            )
    except (KafkaError, TimeoutError, OSError) as error:
        print(f"orgsync replay: Kafka did not answer: {type(error).__name__}", file=sys.stderr)
        return PROBLEM
    if json:
        print_json(summary(topic, since, route, found, copied))
    else:
        print(outcome(since, route, copied), file=out)
    return DONE


def summary(
    topic: str, since: datetime, route: Route | None, found: list[Window], copied: int | None
) -> dict[str, Any]:
    """The `--format json` answer; `appended` is null after a dry run."""
    return {
        "topic": topic,
        "from": since.isoformat(),
        "route": f"{route.source}:{route.target}" if route else None,
        "partitions": [{**asdict(w), "changes": w.size} for w in found],
        "changes": sum(w.size for w in found),
        "appended": copied,
    }


def outcome(since: datetime, route: Route | None, copied: int | None) -> str:
    if copied is None:
        return "dry run: nothing appended"
    scope = f" of {route.source} for route {route.source}:{route.target}" if route else ""
    return (
        f"appended {copied} changes{scope} from {since.isoformat()} again; the running "
        "workers sync what each route has not synced yet"
    )


async def append_again(
    cluster: KafkaCluster, topic: str, into: str, found: list[Window], source: str | None
) -> int:
    """Read each window of `topic` and produce its messages to the same partition of `into`,
    in order."""
    from connectors.kafka import TopicPartition

    consumer = cluster.consumer(
        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    producer = cluster.producer(linger_ms=5)
    await consumer.start()
    await producer.start()
    copied = 0
    try:
        for window in (w for w in found if w.size):
            tp = TopicPartition(topic, window.partition)
            consumer.assign([tp])
            consumer.seek(tp, window.start)
            while await consumer.position(tp) < window.end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=SEND_BATCH)
                acks = [
                    await producer.send(
                        into, m.value, key=m.key, partition=tp.partition, headers=list(m.headers)
                    )
                    for m in batch.get(tp, [])
                    if m.offset < window.end and wanted(m.key, source)
                ]
                for ack in acks:
                    await ack
                copied += len(acks)
    finally:
        await producer.stop()
        await consumer.stop()
    return copied
