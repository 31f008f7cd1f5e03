"""`orgsync init` on two emulated orgs whose fields and picklists differ: the starter mapping it
prints, and `orgsync check` accepting it once the marked values are filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import orgsync
from tests.support.pipeline import org_config, target_modules, worker_env, write_config
from zoho_emulator import Emulator

TIERS = {"api_name": "Tier", "data_type": "picklist"}


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    source = target_modules()
    source["Leads"]["fields"] += [
        {**TIERS, "pick_list_values": ["Gold", "Silver", "Bronze"]},
        {"api_name": "Region", "data_type": "text"},
    ]
    target = target_modules()
    target["Leads"]["fields"] += [
        {**TIERS, "pick_list_values": ["Gold", "Silver"]},
        {"api_name": "Sales_Region", "data_type": "text", "field_label": "Region"},
        {"api_name": "Segment", "data_type": "text", "mandatory": True},
    ]
    return {"src": org_config("src", "in", source), "tgt": org_config("tgt", "us", target)}


def filled_in(starter: str, value: str) -> str:
    """The starter with its commented `values` map taken in and FILL_IN decided."""
    lines = []
    for line in starter.splitlines():
        if line.lstrip().startswith(("# values:", "#   ")):
            line = line.replace("# ", "", 1)
        lines.append(line.replace("FILL_IN", value))
    return "\n".join(lines)


async def test_init_prints_a_mapping_that_check_accepts_once_filled_in(
    emu: Emulator, kafka_broker: str, unique_name: str, tmp_path: Path
) -> None:
    orgs = ("src", "tgt")
    config = write_config(tmp_path / "orgsync.yaml", emu.url, kafka_broker, unique_name, orgs, [])
    env = worker_env(orgs)
    result = await orgsync(
        "init", "--config", config, "--route", "src:tgt", "--modules", "Leads,Accounts", env=env
    )
    assert result.code == 0, result.err
    starter = result.out
    leads = yaml.safe_load(starter)["sync"][0]["modules"]["Leads"]
    assert leads["match_field"] == "Origin_Record_Id"
    assert leads["link_existing"] == ["Email"]
    assert leads["rename"] == {"Region": "Sales_Region"}  # the same label
    assert {"Tier", "Region", "Last_Name", "Email"} <= set(leads["fields"])
    assert leads["owner"] == {"match": "email", "default": "admin@tgt.example"}
    assert '#     "Bronze": FILL_IN  # the target has: Gold, Silver' in starter
    assert "# WARNING: the target requires Segment, which nothing maps" in starter

    raw = yaml.safe_load(config.read_text())
    raw["sync"] = yaml.safe_load(filled_in(starter, "Silver"))["sync"]
    assert raw["sync"][0]["modules"]["Leads"]["values"] == {"Tier": {"Bronze": "Silver"}}
    config.write_text(yaml.safe_dump(raw))
    checked = await orgsync("check", "--config", config, env=env)
    assert checked.code == 0, checked.out + checked.err
