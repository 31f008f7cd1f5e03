"""`orgsync trace --config F --org ORG --module M --id ID`: where is my record?

Reads what Kafka holds about one source record (orgsync_operations/trace.py): its hints, the
changes fetched, dedup decisions, queued and held writes, DLQ entries, and the target record
id in every target org. Nothing is written and no consumer group is joined.
Exit codes: 0 the record is known (even if not synced yet: the output says so); 1 nothing at
all is known about it, or Kafka unreachable; 2 usage or configuration error (an unknown org, a
module no route syncs from it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from orgsync.commands import (
    DONE,
    PROBLEM,
    USAGE,
    add_config_arguments,
    add_format,
    iso_time,
    load_config,
)

# What each stage says beyond its name, in the text output: the event's fields to show.
DETAILS = {
    "hint": ("source", "operation"),
    "change": ("operation", "modified_time", "source", "force"),
    "dedup": ("route", "verdict", "modified_time", "dropped_lookups", "conflicts"),
    "held": ("parents",),
    "queued": ("target", "operation", "attempt"),
    "related": ("route", "kinds"),
    "written": ("target", "target_id"),
    "unlinked": ("target",),
    "dead_letter": ("id", "route", "failed_stage", "code", "state", "message"),
}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "trace",
        help="show where a record is: its journey through the pipeline and its target ids",
        description="Show one source record's journey as Kafka holds it: hints, fetched "
        "changes, dedup decisions, queued and held writes, dead letters, and the id of its "
        "copy in every target org.",
    )
    add_config_arguments(parser, log_level="error")
    parser.add_argument("--org", required=True, help="the org the record lives in")
    parser.add_argument("--module", required=True, help="its module (API name)")
    parser.add_argument("--id", required=True, dest="record_id", help="its record id")
    parser.add_argument(
        "--since", type=iso_time, help="only events from this ISO 8601 time on (faster)"
    )
    add_format(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from connectors.kafka.cluster import KafkaUnavailable
    from orgsync_operations.trace import known, routes_reading, trace_record

    settings = load_config(args)
    if settings is None:
        return USAGE
    try:
        routes_reading(settings, args.org, args.module)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE
    try:
        trace = asyncio.run(
            trace_record(settings, args.org, args.module, args.record_id, args.since)
        )
    except KafkaUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return PROBLEM
    print(_json(trace) if args.format == "json" else render(trace))
    return DONE if known(trace) else PROBLEM


def _json(trace: Mapping[str, Any]) -> str:
    import orjson

    return orjson.dumps(trace, option=orjson.OPT_INDENT_2).decode()


def render(trace: Mapping[str, Any]) -> str:
    """The trace as a readable timeline, then the target ids."""
    lines = [f"record {trace['record']}"]
    if not trace["events"]:
        lines.append("  nothing about this record in Kafka")
    for event in trace["events"]:
        shown = [_field(event, name) for name in DETAILS[event["stage"]] if name in event]
        lines.append(f"  {event['at']}  {event['stage']:<11}  {'  '.join(shown)}".rstrip())
    lines.append("targets:")
    for org, target_id in sorted(trace["targets"].items()):
        lines.append(f"  {org}: {target_id or 'not synced'}")
    if not any(trace["targets"].values()):
        lines.append("not synced to any target yet")
    return "\n".join(lines)


def _field(event: Mapping[str, Any], name: str) -> str:
    value = event[name]
    if isinstance(value, list):
        value = ",".join(map(str, value))
    return f"{name}={value}"
