"""Sub-commands of `orgsync`; see orgsync/cli.py for the contract each module follows.

What the commands share: the configuration arguments, loading the configuration (a problem is
printed and the command exits 2), ISO 8601 times as arguments, and plain logging to stderr for
the short-lived commands.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orgsync_kernel.settings import Route, Settings


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the YAML/JSON configuration file")
    parser.add_argument("--secrets-file", default=None, help="a 0600 file with the ${VARIABLES}")


def load_config(args: argparse.Namespace, routes_required: bool = True) -> Settings | None:
    """The validated settings, or None after printing every problem (exit with 2)."""
    from orgsync_kernel.config_file import ConfigError, load_settings

    try:
        return load_settings(
            args.config, secrets_file=args.secrets_file, routes_required=routes_required
        )
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def iso_time(text: str) -> datetime:
    """An ISO 8601 time (`Z` or an offset; none means UTC); ValueError when it is not one."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_route(settings: Settings, spec: str) -> Route:
    """The configured route `SRC:TGT`; ValueError naming the known ones when there is none."""
    source, sep, target = spec.partition(":")
    for route in settings.sync:
        if sep and (route.source, route.target) == (source, target):
            return route
    known = ", ".join(f"{r.source}:{r.target}" for r in settings.sync)
    raise ValueError(f"no route {spec!r} in the configuration (routes: {known})")


def log_to_stderr(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
