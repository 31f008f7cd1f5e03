"""Pure parts of `orgsync trace`: messages as events, dedup verdicts, links, order, text."""

from __future__ import annotations

from typing import Any

import pytest

from orgsync.cli import main
from orgsync.commands.trace import render
from orgsync_kernel.events import Change, HeldChange, Hint, RelatedWork, Write, dead_letter
from orgsync_kernel.settings import Settings
from orgsync_operations.trace import (
    change_event,
    dead_letter_event,
    dedup_events,
    held_event,
    hint_event,
    known,
    link_events,
    queued_event,
    related_event,
    report,
    routes_reading,
)

AT = 1_800_000_000.0  # a message's time


def settings() -> Settings:
    org = {
        "dc": "in",
        "edition": "enterprise",
        "client_id": "1000.X",
        "client_secret": "org-client-secret",
        "refresh_token": "org-refresh-token",
    }
    leads = {"Leads": {"match_field": "Email"}}
    return Settings.model_validate(
        {
            "ingress": {"webhook_secret": "hook-secret-0123456789"},
            "orgs": {"a": org, "b": org, "c": org},
            "sync": [
                {"source": "a", "target": "b", "modules": leads},
                {"source": "a", "target": "c", "modules": leads},
                {"source": "b", "target": "a", "modules": {"Contacts": {"match_field": "Email"}}},
            ],
        }
    )


def change(**extra: Any) -> Change:
    return Change(
        org="a",
        module="Leads",
        id="1",
        operation="update",
        source="poll",
        received_at=AT - 9,
        modified_time="2027-01-15T08:00:00+05:30",
        record={"id": "1", "Email": "x@example.com"},
        **extra,
    )


def test_routes_reading_a_module_and_the_usage_errors() -> None:
    assert [r.name for r in routes_reading(settings(), "a", "Leads")] == ["a->b", "a->c"]
    with pytest.raises(ValueError, match=r"unknown org 'z' \(orgs: a, b, c\)"):
        routes_reading(settings(), "z", "Leads")
    with pytest.raises(ValueError, match=r"no route syncs Leads from b \(modules it syncs: Cont"):
        routes_reading(settings(), "b", "Leads")
    with pytest.raises(ValueError, match=r"modules it syncs: none"):
        routes_reading(settings(), "c", "Leads")


def test_hints_are_dated_when_received_changes_when_logged() -> None:
    hint = Hint(
        org="a", module="Leads", id="1", operation="insert", source="webhook", received_at=AT - 5
    )
    assert hint_event(hint.dumps(), AT) == {
        "stage": "hint",
        "at": AT - 5,
        "source": "webhook",
        "operation": "insert",
    }
    logged = change_event(change().dumps(), AT)
    assert (logged["at"], logged["modified_time"], "force" in logged) == (
        AT,
        "2027-01-15T08:00:00+05:30",
        False,
    )
    assert change_event(change(force=True).dumps(), AT)["force"] is True


def test_queued_held_related_and_dead_letter_events() -> None:
    write = Write(
        route="a->b",
        target_org="b",
        target_module="Leads",
        source_org="a",
        source_module="Leads",
        source_id="1",
        operation="upsert",
        record={},
        match_field="Email",
        content_hash="h",
        modified_time=None,
        attempt=2,
    )
    assert queued_event(write.dumps(), AT) == {
        "stage": "queued",
        "at": AT,
        "route": "a->b",
        "target": "b",
        "operation": "upsert",
        "attempt": 2,
    }
    held = HeldChange(change=change(), held_since=AT - 3, parents=["a/Accounts/7"])
    assert held_event(held.dumps(), AT) == {
        "stage": "held",
        "at": AT - 3,
        "parents": ["a/Accounts/7"],
    }
    work = RelatedWork(
        route="a->b", org="a", module="Leads", id="1", kinds=["notes"], queued_at=AT - 1
    )
    assert related_event(work.dumps(), AT)["kinds"] == ["notes"]
    letter = dead_letter("a->b", "write", "a/Leads/1", {}, "MANDATORY_NOT_FOUND", "required")
    event = dead_letter_event(letter.dumps(), AT)
    assert (event["stage"], event["id"], event["failed_stage"], event["code"]) == (
        "dead_letter",
        letter.id,
        "write",
        "MANDATORY_NOT_FOUND",
    )
    assert (event["at"], event["state"]) == (letter.failed_at, "open")


def fingerprint(content: str, modified: str) -> dict[str, str]:
    return {"content_hash": content, "modified_time": modified}


def test_dedup_verdicts_compare_neighbouring_fingerprint_versions() -> None:
    first = {"a->b": fingerprint("h1", "t1")}
    same_content_later = {"a->b": fingerprint("h1", "t2")}
    new_content = {"a->b": fingerprint("h2", "t3"), "a->c": fingerprint("k1", "t3")}
    only_c_changed = {"a->b": fingerprint("h2", "t3"), "a->c": fingerprint("k2", "t4")}
    deleted = None  # a delete drops the record's fingerprints: what follows is new content
    versions = [
        (1.0, first),
        (2.0, same_content_later),
        (3.0, new_content),
        (4.0, only_c_changed),
        (5.0, deleted),
        (6.0, only_c_changed),
    ]
    found = [(e["at"], e["route"], e["verdict"]) for e in dedup_events(versions)]
    assert found == [
        (1.0, "a->b", "stored"),  # what came before it may have been compacted away
        (2.0, "a->b", "duplicate"),
        (3.0, "a->b", "accepted"),
        (3.0, "a->c", "accepted"),  # a route's first fingerprint after the first version
        (4.0, "a->c", "accepted"),
        (6.0, "a->b", "accepted"),
        (6.0, "a->c", "accepted"),
    ]
    assert dedup_events([(1.0, first)])[0]["modified_time"] == "t1"
    dropped = {"a->b": {"modified_time": "t9", "content_hash": "h", "dropped_lookups": ["Vendor"]}}
    [event] = dedup_events([(1.0, dropped)])
    assert event["dropped_lookups"] == ["Vendor"]
    assert "dropped_lookups" not in dedup_events([(1.0, first)])[0]


def test_links_name_the_last_target_id_and_a_tombstone_unlinks() -> None:
    route = settings().sync[0]
    events, target_id = link_events([(1.0, "900"), (2.0, None)], route)
    assert [(e["stage"], e.get("target_id")) for e in events] == [
        ("written", "900"),
        ("unlinked", None),
    ]
    assert target_id is None
    assert link_events([], route) == ([], None)
    assert link_events([(1.0, "900")], route)[1] == "900"


def test_report_orders_by_time_then_stage_and_says_times_in_utc() -> None:
    events = [
        {"stage": "written", "at": AT + 1},
        {"stage": "change", "at": AT},
        {"stage": "hint", "at": AT},
    ]
    trace = report("a/Leads/1", events, {"b": "900", "c": None})
    assert [e["stage"] for e in trace["events"]] == ["hint", "change", "written"]
    assert trace["events"][0]["at"] == "2027-01-15T08:00:00.000+00:00"
    assert trace["targets"] == {"b": "900", "c": None}
    assert known(trace)
    assert known(report("a/Leads/1", [], {"b": "900"}))
    assert not known(report("a/Leads/1", [], {"b": None}))


def test_text_output_shows_the_timeline_and_what_is_not_synced() -> None:
    events = [
        {"stage": "hint", "at": AT, "source": "poll", "operation": "update"},
        {"stage": "held", "at": AT + 1, "parents": ["a/Accounts/7", "a/Accounts/8"]},
    ]
    text = render(report("a/Leads/1", events, {"b": None, "c": None}))
    assert text.splitlines() == [
        "record a/Leads/1",
        "  2027-01-15T08:00:00.000+00:00  hint         source=poll  operation=update",
        "  2027-01-15T08:00:01.000+00:00  held         parents=a/Accounts/7,a/Accounts/8",
        "targets:",
        "  b: not synced",
        "  c: not synced",
        "not synced to any target yet",
    ]
    assert "nothing about this record" in render(report("a/Leads/1", [], {"b": None}))


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["trace", "--help"])
    assert exited.value.code == 0
    assert "--id" in capsys.readouterr().out
