"""`orgsync plan --config FILE [--route SRC:TGT] [--module M] [--format json]`: a dry run.

Reads every record of each synced module of the source, maps it as the sync would, and looks it
up in the target (by the link orgsync recorded, by its match value, by `link_existing`) to say
what the sync would do with it: create, link, update, unchanged or ambiguous
(pipeline/sync/planning.py), or that it would reject it (dead-letter: a currency the target
lacks under `currency: reject`, say), with a few samples per kind and the API credits the
sync would spend.
It never writes to an org and never produces to Kafka; it reads the `links` topic.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from orgsync.commands import (
    DONE,
    PROBLEM,
    USAGE,
    add_config_arguments,
    add_format,
    add_route,
    find_route,
    load_config,
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "plan",
        help="show what a sync would create, link, update or leave (writes nothing)",
        description="Read both orgs of each route and report, per module, how many source "
        "records the sync would create, link to an existing target record, update, leave "
        "unchanged, or cannot bind because several target records match; with samples and "
        "the API credits the sync would spend. Never writes, never produces.",
    )
    add_config_arguments(parser)
    add_route(parser, "only this route")
    parser.add_argument("--module", default=None, help="only this source module")
    add_format(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio

    from connectors.kafka.cluster import KafkaUnavailable
    from connectors.zoho import ZohoError
    from orgsync.commands.plan_reads import make_plan

    settings = load_config(args)
    if settings is None:
        return USAGE
    try:
        routes = [find_route(settings, args.route)] if args.route else list(settings.sync)
    except ValueError as problem:
        print(f"orgsync plan: {problem}", file=sys.stderr)
        return USAGE
    if args.module and not any(args.module in r.modules for r in routes):
        print(f"orgsync plan: no route here syncs {args.module!r}", file=sys.stderr)
        return USAGE
    try:
        plan = asyncio.run(make_plan(settings, routes, args.module))
    except ZohoError as error:
        print(
            f"orgsync plan: Zoho refused: {error.zoho_code} {error.zoho_message}", file=sys.stderr
        )
        return PROBLEM
    except KafkaUnavailable as error:
        print(f"orgsync plan: {error}", file=sys.stderr)
        return PROBLEM
    if args.format == "json":
        print(json.dumps(plan, indent=2, default=str))
    else:
        print("\n".join(describe(plan)))
    return DONE


def describe(plan: Mapping[str, Any]) -> list[str]:
    from pipeline.sync.planning import KINDS

    COLUMNS = (*KINDS, "rejected")
    lines: list[str] = []
    for route in plan["routes"]:
        lines.append(f"route {route['route']}")
        head = f"  {'MODULE':<20}" + "".join(f"{k.upper():>11}" for k in COLUMNS)
        lines.append(head + f"{'CREDITS':>16}")
        for module, found in route["modules"].items():
            counts = "".join(f"{found[k]:>11}" for k in COLUMNS)
            credits = found["credits"]
            lines.append(f"  {module:<20}{counts}{credits['source']:>8}/{credits['target']:<7}")
        for module, found in route["modules"].items():
            for kind, samples in found["samples"].items():
                for sample in samples:
                    lines.append(f"  {module} {kind}: {json.dumps(sample, default=str)}")
    lines.append("rejected: records the sync would dead-letter (samples give the reason)")
    lines.append("credits: source org / target org, what the sync would spend")
    return lines
