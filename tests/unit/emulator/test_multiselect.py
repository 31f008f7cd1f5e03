"""Pure parts of multi-select lookups: the row definition, merging a write, unlinking."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from zoho_emulator import ConfigError
from zoho_emulator.multiselect import merge_all, unlink
from zoho_emulator.record_error import RecordError
from zoho_emulator.schema import ModuleDef
from zoho_emulator.schema_inventory import build_org_modules
from zoho_emulator.store import ModuleStore, StoredRecord
from zoho_emulator.subforms import RowWrite, SubformWrite

FIELD = {
    "api_name": "Accounts_Linked",
    "data_type": "multiselectlookup",
    "lookup_module": "Accounts",
}


def _modules() -> dict[str, ModuleDef]:
    ids = (f"{n:019d}" for n in itertools.count(1))
    return build_org_modules({"Contacts": {"fields": [FIELD]}}, lambda: next(ids))


def _write(*rows: tuple[str | None, str | None, bool]) -> SubformWrite:
    """Rows as (linking id, connected id, _delete)."""
    return SubformWrite(
        "Accounts_Linked",
        tuple(
            RowWrite(
                rid, {"Accounts": acc} if acc else {}, delete, f"$.data[0].Accounts_Linked[{j}]"
            )
            for j, (rid, acc, delete) in enumerate(rows)
        ),
    )


def _merge(write: SubformWrite, stored: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    field = _modules()["Contacts"].fields["Accounts_Linked"]
    new_ids = (f"L{n}" for n in itertools.count(1))
    values: dict[str, Any] = {"Accounts_Linked": write}
    merge_all([field], values, {"Accounts_Linked": stored}, lambda: next(new_ids))
    rows: list[dict[str, Any]] = values["Accounts_Linked"]
    return rows


def test_the_row_is_a_mandatory_lookup_named_after_the_connected_module() -> None:
    (row,) = _modules()["Contacts"].fields["Accounts_Linked"].rows
    assert (row.api_name, row.data_type, row.lookup_module) == ("Accounts", "lookup", "Accounts")
    assert row.system_mandatory and row.id


def test_a_connected_module_the_org_lacks_is_a_config_error() -> None:
    bad = {**FIELD, "lookup_module": "Vendors"}  # Vendors is not in an org without inventory
    with pytest.raises(ConfigError, match="Vendors"):
        build_org_modules({"Contacts": {"fields": [bad]}}, lambda: "1" * 19)


def test_new_rows_get_linking_ids_and_unsent_rows_are_kept() -> None:
    stored = [{"Accounts": "A1", "id": "OLD"}]
    rows = _merge(_write((None, "A2", False)), stored)
    assert rows == [{"Accounts": "A1", "id": "OLD"}, {"Accounts": "A2", "id": "L1"}]


def test_delete_by_linking_id_removes_only_that_row() -> None:
    stored = [{"Accounts": "A1", "id": "R1"}, {"Accounts": "A2", "id": "R2"}]
    assert _merge(_write(("R1", "A1", True)), stored) == [{"Accounts": "A2", "id": "R2"}]


def test_a_connected_record_is_linked_once() -> None:
    stored = [{"Accounts": "A1", "id": "R1"}]
    rows = _merge(_write((None, "A1", False), (None, "A2", False), (None, "A2", False)), stored)
    assert [(r["Accounts"], r["id"]) for r in rows] == [("A1", "R1"), ("A2", "L2")]


def test_an_unknown_linking_id_is_invalid_data() -> None:
    with pytest.raises(RecordError) as caught:
        _merge(_write(("NOPE", None, True)), [])
    assert caught.value.details["json_path"] == "$.data[0].Accounts_Linked[0].id"


def test_a_new_row_without_the_connected_record_is_mandatory_not_found() -> None:
    with pytest.raises(RecordError) as caught:
        _merge(_write((None, None, False)), None)
    assert caught.value.code == "MANDATORY_NOT_FOUND"
    assert caught.value.details["api_name"] == "Accounts"


def test_unlink_drops_rows_of_deleted_records_without_mutating_stored_values() -> None:
    modules = _modules()
    stores = {name: ModuleStore(m) for name, m in modules.items()}
    rows = [{"Accounts": "A1", "id": "R1"}, {"Accounts": "A2", "id": "R2"}]
    old_values = {"Last_Name": "Boyle", "Accounts_Linked": rows}
    record = StoredRecord("C1", old_values, 0, 0, "u", "u")
    stores["Contacts"].records["C1"] = record
    unlink(modules, stores, "Accounts", {"A1"})
    assert record.values["Accounts_Linked"] == [{"Accounts": "A2", "id": "R2"}]
    assert old_values["Accounts_Linked"] is rows and len(rows) == 2  # write events keep theirs
    assert record.modified_s == 0
