"""The `orgsync` command line: one entry point, one sub-command per job."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "emulator":
        return _run_emulator(args[1:])
    build_parser().parse_args(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
