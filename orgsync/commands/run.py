"""`orgsync run --config FILE [--role all|ingress|worker]` (see orgsync/runner.py)."""

from __future__ import annotations

import argparse
from typing import Any

from orgsync.commands import USAGE, add_config_arguments, load_config


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run the sync: the ingress and/or the worker",
        description="Run orgsync: the ingress (webhooks, notifications, poller) and the worker "
        "(the round loop that reads, maps and writes records, and its cold-path agents: queued "
        "writes, held children, related data). Several workers on one Kafka cluster "
        "share the work through consumer groups. SIGTERM stops it with exit 0.",
    )
    add_config_arguments(run, plain_logs=False)  # structured logs, set up by the handler
    run.add_argument(
        "--role",
        choices=("all", "ingress", "worker"),
        default="all",
        help="what this process runs (default: all)",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="one line per event: key=value text or JSON (default: text)",
    )
    run.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from orgsync.runner import run
    from orgsync_operations.logs import configure, secret_values

    settings = load_config(args)
    if settings is None:
        return USAGE
    configure(args.log_level, args.log_format, secret_values(settings))
    return run(settings, args.role, args.log_level)
