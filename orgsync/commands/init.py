"""`orgsync init --config FILE --route SRC:TGT --modules Leads,Accounts`: a starter mapping.

Reads both orgs' field metadata and users and prints a `sync:` section to start from
(orgsync/mapping_assistant.py): paste it into the configuration, decide what is marked
FILL_IN, and run `orgsync check`. The configuration needs only the two orgs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orgsync.commands import DONE, PROBLEM, USAGE, add_config_arguments, add_route, load_config


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "init",
        help="print a starter sync section for a route, from both orgs' fields and users",
        description="Read the field metadata and users of both orgs of a route and print a "
        "sync section to start from: common fields, renames by label, picklist values to "
        "map, a match field, link_existing keys, an owner mapping, and warnings.",
    )
    add_config_arguments(parser)
    add_route(parser, "source and target org", required=True)
    parser.add_argument(
        "--modules", required=True, help="comma-separated source modules, e.g. Leads,Accounts"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio

    from connectors.zoho import ZohoError

    settings = load_config(args, routes_required=False)
    if settings is None:
        return USAGE
    source, target = args.route
    if source not in settings.orgs or target not in settings.orgs:
        known = ", ".join(sorted(settings.orgs))
        print(f"orgsync init: --route {args.route}: orgs are {known}", file=sys.stderr)
        return USAGE
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    try:
        print(asyncio.run(starter(settings, source, target, modules)), end="")
    except ZohoError as error:
        print(
            f"orgsync init: Zoho refused: {error.zoho_code} {error.zoho_message}", file=sys.stderr
        )
        return PROBLEM
    return DONE


async def starter(settings: Any, source: str, target: str, modules: list[str]) -> str:
    from orgsync.mapping_assistant import owner_default, render, suggest
    from orgsync.orgs import deployment_clients

    async with deployment_clients(settings, (source, target), "init") as clients:
        src, tgt = clients[source], clients[target]
        found = [suggest(m, await src.fields(m), await tgt.fields(m)) for m in modules]
        owner = owner_default(await src.users(), await tgt.users())
    return render(source, target, found, owner)
