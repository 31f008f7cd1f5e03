"""Records that already exist in the target are bound, not duplicated (`link_existing`), and
the first write to them follows `on_link`; an ambiguous key goes to the DLQ with the
candidates. The round writes to the emulated target through the real sink."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bench.deployment import ORIGIN, records
from orgsync_kernel.events import Change, DeadLetter
from tests.support.agents import Stage
from tests.support.pipeline import client
from zoho_emulator import Emulator

MODIFIED = "2024-01-01T00:00:00+00:00"


def linking(on_link: str) -> Any:
    modules = {"Accounts": {"match_field": ORIGIN, "link_existing": ["Account_Name"]}}
    modules["Accounts"]["on_link"] = on_link
    return pytest.mark.route(modules)


def change(record_id: str, **fields: Any) -> Change:
    return Change(
        org="src",
        module="Accounts",
        id=record_id,
        operation="insert",
        source="backfill",
        received_at=0.0,
        modified_time=MODIFIED,
        record={"id": record_id, "Modified_Time": MODIFIED, **fields},
    )


async def existing(emu: Emulator, *rows: dict[str, Any]) -> list[str]:
    async with aiohttp.ClientSession() as session:
        tgt = await client(emu, "tgt", session)
        outcomes = await tgt.insert("Accounts", list(rows))
        await tgt.stop()
    return [str(outcome.id) for outcome in outcomes]


SOURCE = {"Account_Name": "  ACME corp ", "Phone": "+1 (555) 010-9999", "Website": "acme.example"}
TARGET = {"Account_Name": "Acme Corp", "Phone": "555 0100"}


@pytest.mark.parametrize(
    "expected",
    [
        pytest.param({**TARGET, "Website": "acme.example"}, marks=linking("fill_empty")),
        pytest.param(SOURCE, marks=linking("source_wins")),
        pytest.param({**TARGET, "Website": None}, marks=linking("target_wins")),
    ],
    ids=["fill_empty", "source_wins", "target_wins"],
)
async def test_a_record_already_in_the_target_is_bound_and_written_as_on_link_says(
    stage: Stage, emu: Emulator, expected: dict[str, Any]
) -> None:
    bound, _ = await existing(emu, TARGET, {"Account_Name": "Initech"})
    await stage.rounds.process([], [change("111", **SOURCE), change("222", Account_Name="Hooli")])
    rows = {row[ORIGIN]: row for row in records(emu, "tgt", "Accounts")}
    assert set(rows) == {"111", "222", None}  # bound, created, untouched
    acme = rows["111"]
    assert str(acme["id"]) == bound
    assert {name: acme.get(name) for name in expected} == expected
    assert stage.store.links["tgt|src/Accounts/111"] == bound
    assert rows[None]["Account_Name"] == "Initech"


@linking("fill_empty")
async def test_a_key_that_matches_several_target_records_goes_to_the_dlq_with_them(
    stage: Stage, emu: Emulator
) -> None:
    twins = await existing(emu, TARGET, {"Account_Name": "acme corp"})
    await stage.rounds.process([], [change("111", **SOURCE)])
    [letter] = map(DeadLetter.loads, await stage.read(stage.settings.topics.dlq, 1))
    assert (letter.code, letter.key) == ("AMBIGUOUS_MATCH", "src/Accounts/111")
    assert sorted(letter.details["candidates"]) == sorted(twins)
    assert len(records(emu, "tgt", "Accounts")) == 2  # nothing created


@linking("fill_empty")
async def test_a_target_record_claimed_by_another_source_record_is_not_bound_again(
    stage: Stage, emu: Emulator
) -> None:
    await existing(emu, {**TARGET, ORIGIN: "999"})
    await stage.rounds.process([], [change("111", **SOURCE)])
    claimed = [row[ORIGIN] for row in records(emu, "tgt", "Accounts")]
    assert sorted(claimed) == ["111", "999"]  # a new record: that one belongs to 999
