"""`orgsync check`'s verdict on `link_existing` keys, from the target's field metadata (pure)."""

from __future__ import annotations

from orgsync.commands.check_module import FAIL, OK, WARN, _link_result
from orgsync_kernel.settings import ModuleRoute, Route

ROUTE = Route.model_validate(
    {"source": "a", "target": "b", "modules": {"Leads": {"match_field": "X"}}}
)
TARGET = {
    "Email": {"data_type": "email"},
    "Phone": {"data_type": "phone"},
    "Description": {"data_type": "textarea"},
}


def verdict(*keys: str) -> str:
    mapping = ModuleRoute(match_field="Origin_Record_Id", link_existing=keys)
    return _link_result(mapping, ROUTE, TARGET)[0]


def test_link_existing_keys_must_be_searchable_target_fields() -> None:
    assert verdict("Email", "Phone") == OK
    assert verdict("Phone") == WARN
    assert verdict("Email", "Fax") == FAIL
    assert verdict("Description") == FAIL


def test_a_missing_field_is_matched_by_field_id_then_by_label() -> None:
    from orgsync.commands.check_module import _renamed

    here = {
        "Region_New": {"id": "77", "field_label": "Area"},
        "Lead_Source_2": {"id": "78", "field_label": "Lead Source"},
    }
    assert _renamed("Region", here, {"id": "77", "field_label": "Region"}) == (
        "Region (renamed to Region_New?)"
    )
    assert _renamed("Lead_Source", here, None) == "Lead_Source (renamed to Lead_Source_2?)"
    assert _renamed("Fax", here, {"id": "1", "field_label": "Fax"}) == "Fax"
