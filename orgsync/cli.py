"""The `orgsync` command line: one entry point, one sub-command per job.

Each sub-command lives in `orgsync/commands/<name>.py` and provides
`register(subparsers) -> None`, which adds its parser and sets `handler=<fn(args) -> int>`.
Command modules import heavy dependencies (Faust, aiohttp clients) inside their handlers so
that `orgsync --help` stays fast. Exit codes: 0 ok, 1 the job found a problem, 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from orgsync.commands import auth, backfill, channels, check, dlq, init, plan, replay, run, trace

COMMANDS = (run, check, init, plan, backfill, replay, dlq, trace, channels, auth)


def _run_emulator(argv: Sequence[str]) -> int:
    # The product never imports the emulator: hand the process over to it.
    os.execv(sys.executable, [sys.executable, "-m", "zoho_emulator", *argv])
    return 0  # pragma: no cover - execv does not return


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orgsync",
        description="Real-time record sync between Zoho CRM organizations through Kafka.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "emulator",
        help="serve a local Zoho CRM emulator (see `orgsync emulator --help`)",
        add_help=False,
    )
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "emulator":
        return _run_emulator(args[1:])
    parsed = build_parser().parse_args(args)
    return int(parsed.handler(parsed))


if __name__ == "__main__":
    sys.exit(main())
