"""Metadata API: modules, fields, layouts, users, org."""

from __future__ import annotations

from tests.support.emulator import Client


async def test_modules(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/settings/modules")
    assert status == 200
    names = {m["api_name"]: m for m in body["modules"]}
    assert {"Leads", "Contacts", "Accounts", "Deals", "Projects"} <= set(names)
    assert names["Leads"]["api_supported"] is True
    assert names["Projects"]["generated_type"] == "custom"
    status, body, _ = await alpha.call("GET", "/crm/v8/settings/modules/Deals")
    assert status == 200 and body["modules"][0]["api_name"] == "Deals"


async def test_fields_carry_zoho_flags(alpha: Client) -> None:
    status, body, _ = await alpha.call(
        "GET", "/crm/v8/settings/fields", params={"module": "Contacts"}
    )
    assert status == 200
    fields = {f["api_name"]: f for f in body["fields"]}
    last = fields["Last_Name"]
    assert (last["data_type"], last["system_mandatory"], last["read_only"], last["length"]) == (
        "text",
        True,
        False,
        80,
    )
    assert fields["Created_Time"]["read_only"] is True
    assert fields["Account_Name"]["data_type"] == "lookup"
    assert fields["Account_Name"]["lookup"]["module"]["api_name"] == "Accounts"
    assert fields["Lead_Source"]["pick_list_values"][1]["actual_value"] == "Advertisement"
    _, leads, _ = await alpha.call("GET", "/crm/v8/settings/fields", params={"module": "Leads"})
    origin = next(f for f in leads["fields"] if f["api_name"] == "Origin_Record_Id")
    assert origin["unique"] and origin["custom_field"] is True
    status, body, _ = await alpha.call("GET", "/crm/v8/settings/fields", params={"module": "X"})
    assert (status, body["code"]) == (400, "INVALID_MODULE")
    status, body, _ = await alpha.call("GET", "/crm/v8/settings/fields")
    assert (status, body["code"]) == (400, "REQUIRED_PARAM_MISSING")


async def test_layouts(alpha: Client) -> None:
    status, body, _ = await alpha.call(
        "GET", "/crm/v8/settings/layouts", params={"module": "Leads"}
    )
    assert status == 200
    assert body["layouts"][0]["sections"][0]["fields"][0]["api_name"]


async def test_users_and_current_user(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/users", params={"type": "ActiveUsers"})
    assert status == 200 and len(body["users"]) == 2
    assert body["info"]["count"] == 2
    _, me, _ = await alpha.call("GET", "/crm/v8/users", params={"type": "CurrentUser"})
    (user,) = me["users"]
    assert user["email"] == "admin@alpha.example" and user["status"] == "active"
    assert user["time_zone"] == "Asia/Kolkata"


async def test_org(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/org")
    assert status == 200
    (org,) = body["org"]
    assert org["zgid"].isdigit() and org["license_details"]["paid_type"] == "enterprise"
    assert org["time_zone"] == "Asia/Kolkata" and org["type"] == "production"
