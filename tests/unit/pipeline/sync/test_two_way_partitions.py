"""Two-way with record states partitioned: a write into a record whose state is on another
worker's partition is proposed there, and that worker decides it against its state."""

from __future__ import annotations

import asyncio

from orgsync_kernel.config_file import load_settings
from orgsync_kernel.events import Change, Write, link_key, record_key
from pipeline.sync.metadata import Metadata
from pipeline.sync.processor import Processor
from tests.support.config import ENV, EXAMPLE
from tests.support.metadata import FakeOrg

NAMES = ["First_Name", "Last_Name", "Company", "Phone", "Lead_Source", "Lead_Status"]
FIELDS = [{"api_name": n, "data_type": "text"} for n in NAMES] + [
    {"api_name": "Email", "data_type": "email", "unique": True}
]
A = record_key("regional_in", "Leads", "1")  # held by the first worker
B = record_key("global_us", "Leads", "9")  # held by the second
WON = {"Lead_Status": "Qualified", "Email": "ann@example.com"}


def worker(held: str, links: dict[str, str]) -> Processor:
    settings = load_settings(EXAMPLE, ENV)
    metadata = Metadata({org: FakeOrg(FIELDS) for org in settings.orgs})
    return Processor(settings, metadata, {}, links, {}, holds=lambda key: key == held)


def linked() -> dict[str, str]:
    return {
        link_key("regional_in", "Leads", "1", "global_us"): "9",
        link_key("global_us", "Leads", "9", "regional_in"): "1",
    }


def change(key: str, at: str, **fields: str) -> Change:
    org, module, record_id = key.split("/")
    record = {"id": record_id, "Email": "ann@example.com", "Last_Name": "Lee", **fields}
    return Change(
        org=org,
        module=module,
        id=record_id,
        operation="update",
        modified_time=f"2026-01-05T10:00:{at}+00:00",
        record=record,
        source="notification",
        received_at=0.0,
    )


def proposals(processor: Processor, edit: Change) -> list[Write]:
    out = asyncio.run(processor.process(edit))
    assert out.writes == []  # never written from here: the target's worker decides
    return out.proposals


def test_a_status_edited_in_the_global_org_is_decided_and_written_where_its_target_is() -> None:
    links = linked()
    first, second = worker(A, links), worker(B, links)
    first.observe(change(A, "00", Lead_Status="New"))
    [proposed] = proposals(second, change(B, "05", Lead_Status="Qualified"))
    assert proposed.target_key == A and proposed.record["Lead_Status"] == "Qualified"
    assert proposed.versions is not None and "Lead_Status" in proposed.versions
    decided = first.decide(proposed)
    # only what wins, with the match field (Email) it is upserted on
    assert [w.record for w in decided.writes] == [WON]
    assert decided.planned[A]["Lead_Status"][0] == "Qualified"


def test_an_edit_the_target_made_later_is_not_overwritten_and_the_pair_is_watched() -> None:
    links = linked()
    first, second = worker(A, links), worker(B, links)
    first.observe(change(A, "00", Lead_Status="New"))
    second.observe(change(B, "00", Lead_Status="New"))
    [proposed] = proposals(second, change(B, "05", Lead_Status="Qualified"))
    first.observe(change(A, "09", Lead_Status="Junk"))  # edited in regional_in after it
    decided = first.decide(proposed)
    assert decided.writes == [] and decided.drops["echo"] == 1
    assert [pair[:2] for pair in first.divergence._pairs] == [(B, A)]  # the way back is due


def test_a_proposal_of_what_the_target_already_holds_is_an_echo() -> None:
    links = linked()
    first, second = worker(A, links), worker(B, links)
    first.observe(change(A, "00", Lead_Status="Qualified"))
    [proposed] = proposals(second, change(B, "05", Lead_Status="Qualified"))
    assert first.decide(proposed).drops["echo"] == 1


def test_a_worker_that_holds_both_records_decides_at_once() -> None:
    links = linked()
    both = worker(A, links)
    both.holds = lambda key: True
    both.observe(change(A, "00", Lead_Status="New"))
    out = asyncio.run(both.process(change(B, "05", Lead_Status="Qualified")))
    assert out.proposals == [] and [w.record for w in out.writes] == [WON]
