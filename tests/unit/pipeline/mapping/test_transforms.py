from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orgsync_kernel.config_file import load_settings
from orgsync_kernel.settings import ModuleRoute
from pipeline.mapping.content import content_hash, written_view
from pipeline.mapping.transforms import (
    FieldMeta,
    IdResolver,
    MissingParent,
    ParentRef,
    Rejected,
    TargetRecord,
    TransformContext,
    UserDirectory,
    field_index,
    match_uses_source_id,
    transform,
)
from tests.support.config import ENV, EXAMPLE

SETTINGS = load_settings(EXAMPLE, ENV)
FORWARD, BACK = SETTINGS.sync

# Target field metadata, shaped like Zoho's /settings/fields answer.
FIELDS: dict[str, list[dict[str, Any]]] = {
    "Leads": [
        {"api_name": "First_Name", "data_type": "text"},
        {"api_name": "Last_Name", "data_type": "text", "system_mandatory": True},
        {"api_name": "Email", "data_type": "email"},
        {"api_name": "Company", "data_type": "text"},
        {"api_name": "Mobile", "data_type": "phone"},
        {"api_name": "Phone", "data_type": "phone"},
        {"api_name": "Lead_Source", "data_type": "picklist"},
        {"api_name": "Lead_Status", "data_type": "picklist"},
        {"api_name": "Owner", "data_type": "ownerlookup"},
        {"api_name": "Created_Time", "data_type": "datetime", "read_only": True},
    ],
    "Contacts": [
        {"api_name": "Last_Name", "data_type": "text"},
        {"api_name": "Email", "data_type": "email"},
        {"api_name": "Languages", "data_type": "multiselectpicklist"},
        {
            "api_name": "Account_Name",
            "data_type": "lookup",
            "lookup": {"module": {"api_name": "Accounts", "id": "1"}},
        },
        {
            "api_name": "Vendor_Name",
            "data_type": "lookup",
            "lookup": {"module": {"api_name": "Vendors", "id": "2"}},
        },
        {
            "api_name": "Reports_To",
            "data_type": "lookup",
            "lookup": {"module": {"api_name": "Contacts", "id": "3"}},
        },
        {"api_name": "Assistant_User", "data_type": "userlookup"},
        {"api_name": "Score", "data_type": "formula"},
        {"api_name": "Number", "data_type": "autonumber"},
        {"api_name": "Locked_Field", "data_type": "text", "field_read_only": True},
        {"api_name": "Tag", "data_type": "text"},
        {"api_name": "Origin_Record_Id", "data_type": "text"},
        {"api_name": "Revenue", "data_type": "currency"},
        {"api_name": "Birthday", "data_type": "date"},
        {"api_name": "Last_Call", "data_type": "datetime"},
        {"api_name": "Opt_In", "data_type": "boolean"},
        {"api_name": "Owner", "data_type": "ownerlookup"},
    ],
}
SOURCE_USERS = UserDirectory.from_users(
    [
        {"id": "100", "email": "Ana@Regional.example", "status": "active"},
        {"id": "101", "email": "gone@regional.example", "status": "active"},
    ]
)
TARGET_USERS = UserDirectory.from_users(
    [
        {"id": "900", "email": "ana@regional.example", "status": "active"},
        {"id": "901", "email": "sales@global.example"},
        {"id": "902", "email": "gone@regional.example", "status": "disabled"},
    ]
)
ID_MAP = {
    ("Accounts", "4150868000000000001"): "9900000000000000001",
    ("Contacts", "4150868000000000002"): "9900000000000000002",
}


def context(module: str, resolve: IdResolver = ID_MAP, route: Any = FORWARD) -> TransformContext:
    target = route.target_module(module)
    return TransformContext.for_route(
        route, module, field_index(FIELDS[target]), SOURCE_USERS, TARGET_USERS, resolve
    )


def lead(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "4150868000000012345",
        "First_Name": "Patricia",
        "Last_Name": "Boyle",
        "Email": "p.boyle@zylker.example",
        "Company": "Zylker",
        "Phone": "+91 555 0100",
        "Lead_Source": "Web Form",
        "Lead_Status": "Contacted",
        "Owner": {"name": "Ana", "id": "100", "email": "ana@regional.example"},
        "Created_Time": "2024-02-19T18:30:23+05:30",
        "Modified_Time": "2024-02-19T18:31:00+05:30",
        "Created_By": {"name": "Ana", "id": "100"},
        "Modified_By": {"name": "Ana", "id": "100"},
        "$approved": True,
        "$editable": True,
        "$currency_symbol": "₹",
        "Tag": [],
    }
    return record | fields


def contact(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "4150868000000054321",
        "Last_Name": "Smith",
        "Email": "s@zylker.example",
        "Account_Name": {"name": "Zylker", "id": "4150868000000000001"},
        "Owner": {"name": "Ana", "id": "100", "email": "ana@regional.example"},
        "Modified_Time": "2024-02-19T18:31:00+05:30",
        "Full_Name": "Smith",
        "Score": 42,
        "Number": "C-1",
        "Locked_Field": "x",
        "Tag": [{"name": "vip", "id": "7"}],
        "$state": "save",
        "Layout": {"id": "123"},
    }
    return record | fields


def mapped(
    record: dict[str, Any],
    module: str = "Leads",
    route: Any = FORWARD,
    resolve: IdResolver = ID_MAP,
) -> TargetRecord:
    result = transform(record, route.modules[module], context(module, resolve, route))
    assert isinstance(result, TargetRecord), result
    return result


# --- fields ------------------------------------------------------------------------------------


def test_configured_lead_fields_are_renamed_mapped_and_keyed() -> None:
    result = mapped(lead())
    assert result == TargetRecord(
        module="Leads",
        data={
            "First_Name": "Patricia",
            "Last_Name": "Boyle",
            "Company": "Zylker",
            "Mobile": "+91 555 0100",
            "Lead_Source": "Website",
            "Lead_Status": "Contacted",
            "Owner": {"id": "900"},
            "Email": "p.boyle@zylker.example",
        },
        match_field="Email",
        match_value="p.boyle@zylker.example",
    )


def test_all_writable_fields_when_fields_is_omitted() -> None:
    result = mapped(
        contact(
            Languages=["Hindi", "English"],
            Revenue=100000.5,
            Opt_In=False,
            Birthday="1990-05-01",
            Last_Call="2024-01-01T10:00:00+05:30",
        ),
        "Contacts",
    )
    assert result.data == {
        "Last_Name": "Smith",
        "Email": "s@zylker.example",
        "Languages": ["Hindi", "English"],
        "Account_Name": {"id": "9900000000000000001"},
        "Revenue": 100000.5,
        "Opt_In": False,
        "Birthday": "1990-05-01",
        "Last_Call": "2024-01-01T10:00:00+05:30",
        "Origin_Record_Id": "4150868000000054321",
    }


@pytest.mark.parametrize(
    "name",
    [
        "id",
        "Created_Time",
        "Created_By",
        "Modified_Time",
        "Modified_By",
        "$approved",
        "$state",
        "Full_Name",
        "Score",
        "Number",
        "Locked_Field",
        "Tag",
        "Layout",
        "Not_In_Target",
        "Owner",
    ],
)
def test_system_read_only_computed_and_unknown_fields_are_dropped(name: str) -> None:
    record = contact(**{name: "x"}) if name not in contact() else contact()
    assert name not in mapped(record, "Contacts").data


def test_fields_missing_from_the_record_are_not_invented() -> None:
    result = mapped(lead(), route=BACK)
    assert result.data == {"Lead_Status": "Contacted", "Email": "p.boyle@zylker.example"}
    record = lead()
    del record["Lead_Status"]
    assert mapped(record, route=BACK).data == {"Email": "p.boyle@zylker.example"}


def test_null_values_are_copied_to_clear_the_target() -> None:
    assert mapped(lead(Company=None)).data["Company"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Web Form", "Website"),
        ("Trade Show", "Trade Show"),
        (None, None),
        (["Web Form", "Chat"], ["Website", "Chat"]),
    ],
)
def test_picklist_values_are_mapped(value: Any, expected: Any) -> None:
    assert mapped(lead(Lead_Source=value)).data["Lead_Source"] == expected


def test_rename_into_a_field_that_exists_only_in_the_target() -> None:
    route = ModuleRoute(match_field="Email", rename={"Mobile_Phone": "Phone"})
    meta = field_index(FIELDS["Leads"])
    ctx = TransformContext("Leads", meta, SOURCE_USERS, TARGET_USERS, {}, {})
    result = transform(lead(Mobile_Phone="+1 2"), route, ctx)
    assert isinstance(result, TargetRecord) and result.data["Phone"] == "+1 2"


# --- owners ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        ({"id": "100", "name": "Ana", "email": "ana@regional.example"}, "900"),
        ({"id": "100", "name": "Ana"}, "900"),  # e-mail from the source users
        ({"id": "555", "name": "Stranger", "email": "x@else.example"}, "901"),  # default owner
        ({"id": "101", "email": "gone@regional.example"}, "901"),  # disabled in the target
        (None, "901"),
    ],
)
def test_owner_is_mapped_by_email_or_defaults(owner: Any, expected: str) -> None:
    assert mapped(lead(Owner=owner)).data["Owner"] == {"id": expected}


def test_owner_that_resolves_nowhere_is_rejected() -> None:
    route = ModuleRoute(match_field="Email", owner={"default": "nobody@global.example"})
    result = transform(lead(Owner={"id": "1", "email": "x@else.example"}), route, context("Leads"))
    assert isinstance(result, Rejected)
    assert "x@else.example" in result.reason and "nobody@global.example" in result.reason


def test_without_owner_settings_the_owner_is_left_to_the_target() -> None:
    assert "Owner" not in mapped(contact(), "Contacts").data


def test_user_lookups_map_by_email_or_are_left_out() -> None:
    known = mapped(contact(Assistant_User={"id": "100", "name": "Ana"}), "Contacts")
    unknown = mapped(contact(Assistant_User={"id": "555", "name": "Nobody"}), "Contacts")
    assert known.data["Assistant_User"] == {"id": "900"}
    assert "Assistant_User" not in unknown.data


# --- lookups -----------------------------------------------------------------------------------


def test_lookups_translate_through_a_resolver_function() -> None:
    calls: list[tuple[str, str]] = []

    def resolve(module: str, source_id: str) -> str | None:
        calls.append((module, source_id))
        return "T-" + source_id

    result = mapped(
        contact(Reports_To={"id": "4150868000000000002", "name": "Boss"}),
        "Contacts",
        resolve=resolve,
    )
    assert result.data["Account_Name"] == {"id": "T-4150868000000000001"}
    assert result.data["Reports_To"] == {"id": "T-4150868000000000002"}
    assert sorted(calls) == [
        ("Accounts", "4150868000000000001"),
        ("Contacts", "4150868000000000002"),
    ]


def test_a_missing_parent_is_reported_distinctly() -> None:
    record = contact(
        Account_Name={"id": "4150868000000000777", "name": "New Co"},
        Reports_To={"id": "4150868000000000888", "name": "Boss"},
    )
    result = transform(record, FORWARD.modules["Contacts"], context("Contacts"))
    assert isinstance(result, MissingParent)
    assert (result.module, result.source_id) == ("Accounts", "4150868000000000777")
    assert result.parents == (
        ParentRef("Accounts", "4150868000000000777", "Account_Name"),
        ParentRef("Contacts", "4150868000000000888", "Reports_To"),
    )


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_lookup_clears_the_target(value: Any) -> None:
    assert mapped(contact(Account_Name=value), "Contacts").data["Account_Name"] is None


def test_lookup_to_a_module_the_route_does_not_sync_is_left_out() -> None:
    record = contact(Vendor_Name={"id": "4150868000000000999", "name": "V"})
    assert "Vendor_Name" not in mapped(record, "Contacts").data
    assert "Vendor_Name" not in mapped(contact(Vendor_Name=None), "Contacts").data


def test_lookups_setting_names_the_parent_module() -> None:
    route = ModuleRoute(match_field="Origin_Record_Id", lookups={"Vendor_Name": "Accounts"})
    ctx = context("Contacts")
    result = transform(contact(Vendor_Name={"id": "4150868000000000001"}), route, ctx)
    assert isinstance(result, TargetRecord)
    assert result.data["Vendor_Name"] == {"id": "9900000000000000001"}


def test_rejection_wins_over_a_missing_parent() -> None:
    route = FORWARD.modules["Contacts"].model_copy(update={"match_value": "field"})
    record = contact(Account_Name={"id": "404"})
    result = transform(record, route, context("Contacts"))
    assert result == Rejected("match field Origin_Record_Id is empty")


# --- match field -------------------------------------------------------------------------------


def test_external_id_match_field_gets_the_source_id_even_if_the_source_has_that_field() -> None:
    result = mapped(contact(Origin_Record_Id="something else"), "Contacts")
    assert result.match_field == "Origin_Record_Id"
    assert result.match_value == result.data["Origin_Record_Id"] == "4150868000000054321"


@pytest.mark.parametrize("email", [None, ""])
def test_empty_natural_key_is_rejected(email: Any) -> None:
    result = transform(lead(Email=email), FORWARD.modules["Leads"], context("Leads"))
    assert result == Rejected("match field Email is empty")


def test_record_without_id_cannot_use_an_external_id() -> None:
    record = contact()
    del record["id"]
    result = transform(record, FORWARD.modules["Contacts"], context("Contacts"))
    assert isinstance(result, Rejected)


def test_natural_key_is_sent_even_when_not_listed_in_fields() -> None:
    assert mapped(lead(), route=BACK).match_value == "p.boyle@zylker.example"


def test_natural_key_reached_through_a_rename() -> None:
    route = ModuleRoute(match_field="Mobile", rename={"Phone": "Mobile"})
    ctx = context("Leads")
    result = transform(lead(), route, ctx)
    assert isinstance(result, TargetRecord) and result.match_value == "+91 555 0100"


@pytest.mark.parametrize(
    ("settings", "module", "by_source_id"),
    [
        ({"match_field": "Origin_Record_Id"}, "Contacts", True),
        ({"match_field": "Email"}, "Contacts", False),
        ({"match_field": "Account_Name"}, "Accounts", False),
        ({"match_field": "Name"}, "My_Custom", False),
        ({"match_field": "Customer_No", "fields": ["Customer_No"]}, "Accounts", False),
        ({"match_field": "Customer_No", "rename": {"No": "Customer_No"}}, "Accounts", False),
        ({"match_field": "Customer_No"}, "Accounts", True),
        ({"match_field": "Email", "match_value": "source_id"}, "Leads", True),
        ({"match_field": "Origin_Id", "match_value": "field"}, "Leads", False),
    ],
)
def test_match_kind(settings: dict[str, Any], module: str, by_source_id: bool) -> None:
    assert match_uses_source_id(ModuleRoute(**settings), module) is by_source_id


# --- metadata ----------------------------------------------------------------------------------


def test_field_metadata_from_zoho() -> None:
    meta = field_index(FIELDS["Contacts"])
    assert meta["Account_Name"] == FieldMeta("Account_Name", "lookup", False, "Accounts")
    assert meta["Locked_Field"].read_only and not meta["Locked_Field"].writable
    assert not meta["Score"].writable and meta["Email"].writable
    assert FieldMeta.from_zoho({"api_name": "X"}) == FieldMeta("X")


def test_user_directory_ignores_users_without_email() -> None:
    users = UserDirectory.from_users([{"id": "1"}, {"email": "a@b.c"}, {"id": 2, "email": "A@B.C"}])
    assert users.id_for("a@b.c") == "2" and users.email_of({"id": "2"}) == "a@b.c"
    assert users.email_of("not a user") is None and users.id_for(None) is None


# --- hashing and echoes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"Account_Name": {"id": "9"}}, {"Account_Name": {"id": "9", "name": "Zylker"}}),
        ({"Owner": {"id": "9"}}, {"Owner": {"name": "A", "id": "9", "email": "a@x"}}),
        ({"T": "2024-02-19T18:30:23+05:30"}, {"T": "2024-02-19T13:00:23+00:00"}),
        ({"T": "2024-02-19T13:00:23Z"}, {"T": "2024-02-19T13:00:23+00:00"}),
        ({"Revenue": 100000}, {"Revenue": 100000.0}),
        ({"Languages": ["Hindi", "English"]}, {"Languages": ["English", "Hindi"]}),
    ],
)
def test_equal_content_hashes_equal(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert content_hash(left) == content_hash(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"b": 1}),
        ({"a": None}, {}),
        ({"a": "1"}, {"a": 1}),
        ({"Account_Name": {"id": "9"}}, {"Account_Name": {"id": "8"}}),
        ({"T": "2024-02-19T18:30:23+05:30"}, {"T": "2024-02-19T18:30:23+00:00"}),
        ({"Revenue": 1.5}, {"Revenue": 1}),
        ({"x": True}, {"x": 1}),
        ({"id": "1", "a": 1}, {"id": "1", "a": 2}),
    ],
)
def test_different_content_hashes_differ(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert content_hash(left) != content_hash(right)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), JSON, max_size=6))
def test_hash_ignores_key_order(data: dict[str, Any]) -> None:
    reordered = dict(reversed(list(data.items())))
    assert content_hash(reordered) == content_hash(data)
    assert len(content_hash(data)) == 32


def test_the_target_record_as_zoho_returns_it_is_recognised_as_our_write() -> None:
    written = mapped(
        contact(
            Languages=["Hindi", "English"], Revenue=1000, Last_Call="2024-01-01T10:00:00+05:30"
        ),
        "Contacts",
    )
    as_read_back = {
        "id": "9900000000000099999",
        "Last_Name": "Smith",
        "Email": "s@zylker.example",
        "Languages": ["English", "Hindi"],
        "Revenue": 1000.0,
        "Last_Call": "2023-12-31T20:30:00-08:00",
        "Account_Name": {"id": "9900000000000000001", "name": "Zylker"},
        "Origin_Record_Id": "4150868000000054321",
        "Modified_Time": "2024-01-01T10:00:05-08:00",
        "$editable": True,
        "Other": "untouched",
    }
    view = written_view(as_read_back, written.data)
    assert content_hash(view) == written.content_hash
    edited = as_read_back | {"Last_Name": "Smyth"}
    assert content_hash(written_view(edited, written.data)) != written.content_hash
