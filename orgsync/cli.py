# PYTHON_ARGCOMPLETE_OK
"""The `orgsync` command line: one entry point, one sub-command per job.

Each sub-command lives in `orgsync/commands/<name>.py` and provides
`register(subparsers) -> None`, which adds its parser and sets `handler=<fn(args) -> int>`.
Command modules import heavy dependencies (Faust, aiohttp clients) inside their handlers so
that `orgsync --help` stays fast. The conventions every command follows (exit codes, options)
are in orgsync/commands/__init__.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from orgsync.commands import (
    auth,
    backfill,
    channels,
    check,
    dlq,
    init,
    log_to_stderr,
    plan,
    replay,
    run,
    trace,
)

COMMANDS = (run, check, init, plan, backfill, replay, dlq, trace, channels, auth)
EPILOG = """\
exit codes (every command):
  0  done, nothing wrong
  1  the command ran and found a problem
  2  usage or configuration error
See docs/operations.md, "Command line"."""


def _run_emulator(argv: Sequence[str]) -> int:
    # The product never imports the emulator: hand the process over to it.
    os.execv(sys.executable, [sys.executable, "-m", "zoho_emulator", *argv])
    return 0  # pragma: no cover - execv does not return


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("orgsync")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orgsync",
        description="Real-time record sync between Zoho CRM organizations through Kafka.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"orgsync {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "emulator",
        help="serve a local Zoho CRM emulator (see `orgsync emulator --help`)",
        add_help=False,
    )
    for command in COMMANDS:
        command.register(commands)
    return parser


def _complete(parser: argparse.ArgumentParser) -> None:
    # Only a shell asking for completions (`register-python-argcomplete orgsync`) sets this;
    # argcomplete then answers and exits.
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(parser)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "emulator":
        return _run_emulator(args[1:])
    parser = build_parser()
    _complete(parser)
    parsed = parser.parse_args(args)
    if parsed.plain_logs:
        log_to_stderr(parsed.log_level)
    return int(parsed.handler(parsed))


if __name__ == "__main__":
    sys.exit(main())
