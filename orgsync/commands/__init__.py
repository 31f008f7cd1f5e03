"""Sub-commands of `orgsync`; see orgsync/cli.py for the contract each module follows.

What the commands share, so that they all behave alike (docs/operations.md, "Command line"):
the exit codes, the configuration arguments (a problem is printed and the command exits 2),
`--log-level` (plain logging to stderr for the short-lived commands), `--format text|json`,
routes written `SRC:TGT`, and ISO 8601 times as arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from orgsync_kernel.settings import Route, Settings

DONE, PROBLEM, USAGE = 0, 1, 2  # the exit codes of every command
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("text", "json")


def deprecated(old: str, new: str) -> None:
    print(f"orgsync: warning: {old} is deprecated, use {new}", file=sys.stderr)


class DeprecatedAlias(argparse.Action):
    """An old option spelling: hidden from --help, stores into the new one's dest, warns."""

    def __init__(self, option_strings: list[str], dest: str, new: str, **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: str | None = None) -> None:
        deprecated(str(option), self.new)
        setattr(namespace, self.dest, values)


def add_config_arguments(
    parser: argparse.ArgumentParser, log_level: str = "warning", plain_logs: bool = True
) -> None:
    parser.add_argument("--config", required=True, help="the YAML/JSON configuration file")
    parser.add_argument("--secrets-file", default=None, help="a 0600 file with the ${VARIABLES}")
    add_log_level(parser, log_level, plain_logs)


def add_log_level(parser: argparse.ArgumentParser, default: str, plain: bool = True) -> None:
    """`--log-level` (and the old `--loglevel`); `plain`: cli.main logs to stderr at that
    level before the handler runs (`run` sets up its structured logs itself)."""
    parser.add_argument(
        "--log-level",
        default=default,
        type=str.lower,
        choices=LOG_LEVELS,
        help=f"the lowest level logged (default: {default})",
    )
    parser.add_argument(
        "--loglevel",
        dest="log_level",
        action=DeprecatedAlias,
        new="--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
    )
    parser.set_defaults(plain_logs=plain)


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = FORMATS) -> None:
    """`--format text|json`, text by default (`table`, the old name of text, still works)."""

    def renamed(value: str) -> str:
        if value == "table":
            deprecated("--format table", "--format text")
            return "text"
        return value

    parser.add_argument(
        "--format",
        type=renamed,
        choices=choices,
        default=choices[0],
        help=f"output format (default: {choices[0]})",
    )


def load_config(args: argparse.Namespace, routes_required: bool = True) -> Settings | None:
    """The validated settings, or None after printing every problem (exit with USAGE)."""
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


class RouteSpec(NamedTuple):
    """A route as the command line names it: `SRC:TGT`."""

    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.source}:{self.target}"

    @property
    def name(self) -> str:
        """What dead letters and metrics call it (`Route.name`)."""
        return f"{self.source}->{self.target}"


def route_spec(text: str) -> RouteSpec:
    """`SRC:TGT` (the old `SRC->TGT` still works, with a warning); an argparse type."""
    source, sep, target = text.partition(":")
    if not sep and "->" in text:
        deprecated(f"the route {text}", text.replace("->", ":", 1))
        source, sep, target = text.partition("->")
    if not (source and sep and target):
        raise argparse.ArgumentTypeError(f"{text!r} is not a route: write SRC:TGT")
    return RouteSpec(source, target)


def add_route(parser: argparse.ArgumentParser, help_text: str, required: bool = False) -> None:
    parser.add_argument(
        "--route", type=route_spec, required=required, metavar="SRC:TGT", help=help_text
    )


def find_route(settings: Settings, spec: RouteSpec | str) -> Route:
    """The configured route `SRC:TGT`; ValueError naming the known ones when there is none."""
    try:
        wanted = spec if isinstance(spec, RouteSpec) else route_spec(spec)
    except argparse.ArgumentTypeError:
        wanted = None
    for route in settings.sync:
        if wanted and (route.source, route.target) == wanted:
            return route
    known = ", ".join(f"{r.source}:{r.target}" for r in settings.sync)
    raise ValueError(f"no route {str(spec)!r} in the configuration (routes: {known})")


def print_json(body: Any) -> None:
    import orjson

    print(orjson.dumps(body, option=orjson.OPT_INDENT_2, default=str).decode())


def log_to_stderr(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
