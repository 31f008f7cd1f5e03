"""The conventions every `orgsync` command follows (docs/operations.md, "Command line"): `--help`
exits 0, a usage error 2, an invalid configuration 2; one route syntax, one log-level flag, one
`--format`; the old spellings still work, with a warning."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from orgsync.cli import COMMANDS, build_parser, main
from orgsync.commands import RouteSpec, route_spec


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable command line prefix: `run`, `dlq list`, `auth exchange`, …"""
    found = []
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        assert isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items():
            if name != "emulator":
                found += leaves(sub, (*path, name)) if sub._subparsers else [(*path, name)]
    return found


LEAVES = leaves(build_parser())


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def test_every_registered_command_is_covered() -> None:
    assert {leaf[0] for leaf in LEAVES} == {c.__name__.rsplit(".", 1)[1] for c in COMMANDS}
    assert set(LEAVES) == set(REQUIRED)


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_help_exits_0(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([*command, "--help"]) == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith(f"usage: orgsync {' '.join(command)}")
    assert "--log-level" in help_text and "--loglevel" not in help_text


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_missing_arguments_exit_2(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(list(command)) == 2
    assert "the following arguments are required" in capsys.readouterr().err


# The arguments besides --config that each command requires.
REQUIRED: dict[tuple[str, ...], list[str]] = {
    ("run",): [],
    ("check",): [],
    ("init",): ["--route", "a:b", "--modules", "Leads"],
    ("plan",): [],
    ("trace",): ["--org", "src", "--module", "Leads", "--id", "1"],
    ("backfill",): ["--route", "a:b"],
    ("replay",): ["--from", "0"],
    ("dlq", "list"): [],
    ("dlq", "show"): ["some-id"],
    ("dlq", "retry"): ["--all"],
    ("dlq", "purge"): ["--all"],
    ("channels", "list"): [],
    ("channels", "renew"): [],
    ("auth", "exchange"): ["--org", "a", "--code", "grant", "--secrets-file", "{tmp}/secrets"],
}


def required(command: tuple[str, ...], tmp_path: Path) -> list[str]:
    return [arg.format(tmp=tmp_path) for arg in REQUIRED[command]]


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_an_invalid_configuration_exits_2(command: tuple[str, ...], tmp_path: Path) -> None:
    config = tmp_path / "orgsync.yaml"
    config.write_text("orgs: {}\nsync: nonsense\n")
    assert exit_code([*command, "--config", str(config), *required(command, tmp_path)]) == 2
    assert not (tmp_path / "secrets").exists()  # auth removes the file it created


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["--version"]) == 0
    assert capsys.readouterr().out == f"orgsync {version('orgsync')}\n"


def test_the_help_links_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    assert "2  usage or configuration error" in out and "docs/operations.md" in out


def test_routes_are_src_colon_tgt(capsys: pytest.CaptureFixture[str]) -> None:
    assert route_spec("a:b") == RouteSpec("a", "b")
    assert str(route_spec("a:b")) == "a:b" and route_spec("a:b").name == "a->b"
    assert capsys.readouterr().err == ""
    for bad in ("a", "a:", ":b", "a-b"):
        with pytest.raises(argparse.ArgumentTypeError, match="write SRC:TGT"):
            route_spec(bad)


def test_the_arrow_route_is_a_deprecated_alias(capsys: pytest.CaptureFixture[str]) -> None:
    parsed = build_parser().parse_args(["dlq", "list", "--config", "c", "--route", "a->b"])
    assert parsed.route == RouteSpec("a", "b")
    assert capsys.readouterr().err == "orgsync: warning: the route a->b is deprecated, use a:b\n"


def test_old_spellings_still_work_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "--config", "c", "--loglevel", "INFO", "--format", "table"]
    parsed = build_parser().parse_args(argv)
    assert (parsed.log_level, parsed.format) == ("info", "text")
    assert capsys.readouterr().err.splitlines() == [
        "orgsync: warning: --loglevel is deprecated, use --log-level",
        "orgsync: warning: --format table is deprecated, use --format text",
    ]


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_one_log_level_flag(command: tuple[str, ...], tmp_path: Path) -> None:
    argv = [*command, "--config", "c", "--log-level", "DEBUG", *required(command, tmp_path)]
    assert build_parser().parse_args(argv).log_level == "debug"


def test_shell_completion(tmp_path: Path) -> None:
    pytest.importorskip("argcomplete")
    answer = tmp_path / "completions"
    line = "orgsync dl"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": " ",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    done = subprocess.run([sys.executable, "-m", "orgsync.cli"], env=env, timeout=60)
    assert done.returncode == 0 and answer.read_text().split() == ["dlq"]
