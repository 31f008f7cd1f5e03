"""Scope matching: prefixes, operation types, case; what each path requires."""

from __future__ import annotations

import pytest

from zoho_emulator.scopes import CREATE, DELETE, READ, Grant, module_need, need, required


@pytest.mark.parametrize(
    ("granted", "wanted", "covered"),
    [
        ("ZohoCRM.modules.ALL", module_need("leads", READ), True),
        ("ZohoCRM.modules.READ", module_need("leads", READ), True),
        ("ZohoCRM.modules.READ", module_need("leads", CREATE), False),
        ("ZohoCRM.modules.leads.WRITE", module_need("leads", CREATE), True),
        ("ZohoCRM.modules.leads.WRITE", module_need("leads", DELETE), False),
        ("ZohoCRM.modules.leads.ALL", module_need("contacts", READ), False),
        ("ZohoCRM.modules.lead.ALL", module_need("leads", READ), False),  # names, not prefixes
        ("zohocrm.SETTINGS.all", need("ZohoCRM.settings.fields", READ), True),
        ("ZohoCRM.settings.fields.READ", need("ZohoCRM.settings", READ), False),
        ("ZohoCRM.modules.ALL", need("ZohoCRM.coql", READ), False),
    ],
)
def test_covers(granted: str, wanted, covered: bool) -> None:
    assert Grant([granted]).covers(wanted) is covered


def test_every_group_of_a_requirement_must_be_met() -> None:
    search = required("GET", ["Leads", "search"], {})
    assert not Grant(["ZohoCRM.modules.ALL"]).meets(search)
    assert Grant(["ZohoCRM.modules.ALL", "ZohoSearch.securesearch.READ"]).meets(search)


def test_notes_of_a_record_need_the_parent_module_and_notes() -> None:
    notes = required("POST", ["Deals", "1", "Notes"], {})
    assert not Grant(["ZohoCRM.modules.notes.ALL"]).meets(notes)
    assert not Grant(["ZohoCRM.modules.deals.ALL", "ZohoCRM.modules.notes.READ"]).meets(notes)
    assert Grant(["ZohoCRM.modules.deals.CREATE", "ZohoCRM.modules.notes.CREATE"]).meets(notes)


def test_module_scope_names_drop_underscores() -> None:
    books = required("GET", ["Price_Books"], {})
    assert Grant(["ZohoCRM.modules.pricebooks.READ"]).meets(books)
