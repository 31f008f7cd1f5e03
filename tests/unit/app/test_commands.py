"""Pure parts of `orgsync backfill` and `orgsync replay`: times, progress lines, windows, what
a backfill covers and in which order."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from orgsync.commands import find_route
from orgsync.commands.backfill import parse_since, what_to_backfill
from orgsync.commands.backfill_run import ProgressPrinter, parents_first, progress_line
from orgsync.commands.replay import describe, parse_time, wanted, windows
from orgsync_kernel.settings import Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31T12:00:00Z", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T17:30:00+05:30", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T12:00:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1738324800", datetime(2025, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_replay_times(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("parse", [parse_time, parse_since])
def test_bad_times_are_usage_errors(parse: object) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="ISO 8601"):
        parse("last tuesday")  # type: ignore[operator]


def test_backfill_since_is_utc_without_an_offset() -> None:
    assert parse_since("2025-01-31") == datetime(2025, 1, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((400, 450, 100.0), "Leads of src: 400/450 (88.9%)  100.0 records/s  ETA 0:00:00"),
        ((0, 7200, 1.0), "Leads of src: 0/7200 (0.0%)  1.0 records/s  ETA 2:00:00"),
        ((200, None, 50.0), "Leads of src: 200/?  50.0 records/s  ETA ?"),
        ((10, 450, 0.0), "Leads of src: 10/450 (2.2%)  0.0 records/s  ETA ?"),
    ],
)
def test_progress_lines(args: tuple[int, int | None, float], line: str) -> None:
    assert progress_line("Leads of src", *args) == line


def test_a_finished_backfill_says_done() -> None:
    assert progress_line("Leads of src", 450, 450, 90.0, finished=True).endswith("done")


def test_windows_and_their_description() -> None:
    found = windows({0: 3, 1: 5}, {0: 10, 1: 5})
    assert [w.size for w in found] == [7, 0]
    assert describe(found, "p.changes")[-1] == "7 changes of p.changes at or after the time"


def test_a_route_replays_only_its_source_org() -> None:
    assert wanted(b"src/Leads/1", "src") and not wanted(b"srcx/Leads/1", "src")
    assert wanted(b"other/Leads/1", None) and not wanted(None, "src")


def two_orgs() -> Settings:
    org = {
        "dc": "in",
        "edition": "enterprise",
        "client_id": "1000.X",
        "client_secret": "org-client-secret",
        "refresh_token": "org-refresh-token",
    }
    return Settings.model_validate(
        {
            "ingress": {"webhook_secret": "hook-secret-0123456789"},
            "orgs": {"a": org, "b": org},
            "sync": [
                {"source": "a", "target": "b", "modules": {"Leads": {"match_field": "Email"}}}
            ],
        }
    )


def test_routes_are_named_source_colon_target() -> None:
    settings = two_orgs()
    assert find_route(settings, "a:b").target == "b"
    for spec in ("b:a", "a-b", "a"):
        with pytest.raises(ValueError, match="routes: a:b"):
            find_route(settings, spec)


def lookup(name: str, module: str) -> dict[str, object]:
    return {"api_name": name, "data_type": "lookup", "lookup": {"module": {"api_name": module}}}


def test_a_route_is_backfilled_parents_first() -> None:
    fields = {
        "Deals": [lookup("Account_Name", "Accounts"), lookup("Contact_Name", "Contacts")],
        "Contacts": [lookup("Account_Name", "Accounts"), lookup("Vendor_Name", "Vendors")],
        "Accounts": [lookup("Parent_Account", "Accounts")],  # itself: no order
    }
    assert parents_first(["Deals", "Contacts", "Accounts"], fields) == [
        "Accounts",
        "Contacts",
        "Deals",
    ]
    circle = {"A": [lookup("b", "B")], "B": [lookup("a", "A")]}
    assert parents_first(["B", "A"], circle) == ["B", "A"]  # as configured


def test_backfill_takes_an_org_and_module_or_a_route() -> None:
    settings = two_orgs()

    def ask(**given: str | None) -> tuple[str, object]:
        args = argparse.Namespace(**{"org": None, "module": None, "route": None, **given})
        return what_to_backfill(settings, args)

    assert ask(org="a", module="Leads") == ("a", None)
    org, route = ask(route="a:b")
    assert org == "a" and route is not None and list(route.modules) == ["Leads"]  # type: ignore[attr-defined]
    assert ask(route="a:b", module="Leads") == ("a", None)
    for wrong, problem in [
        ({"org": "a"}, "give --org and --module"),
        ({"route": "a:b", "org": "b"}, "not the source"),
        ({"route": "a:b", "module": "Deals"}, "does not sync 'Deals'"),
        ({"org": "b", "module": "Leads"}, "no route syncs 'Leads' from b"),
    ]:
        with pytest.raises(ValueError, match=problem):
            ask(**wrong)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    step = SimpleNamespace(done=450, total=450, rate=90.0, finished=True)
    terminal, pipe = _Terminal(), io.StringIO()
    ProgressPrinter("Leads of src", terminal)(
        SimpleNamespace(**{**vars(step), "done": 200, "finished": False})
    )
    ProgressPrinter("Leads of src", pipe)(step)
    assert "Leads of src" in terminal.getvalue() and "200/450" in terminal.getvalue()
    assert pipe.getvalue() == progress_line("Leads of src", 450, 450, 90.0, True) + "\n"
