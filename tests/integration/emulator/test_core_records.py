"""Records API: insert/get/list/update/delete shapes, statuses and request-level errors."""

from __future__ import annotations

import re

from tests.support.emulator import Client, login
from zoho_emulator import Emulator

ID = re.compile(r"^\d{19}$")
IST_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30$")


async def test_insert_answers_201_with_system_fields(alpha: Client) -> None:
    status, body, headers = await alpha.call(
        "POST", "/crm/v8/Leads", json={"data": [{"Last_Name": "Boyle", "Email": "p@z.com"}]}
    )
    assert status == 201
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    (entry,) = body["data"]
    assert (entry["code"], entry["message"], entry["status"]) == (
        "SUCCESS",
        "record added",
        "success",
    )
    details = entry["details"]
    assert list(details) == ["Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"]
    assert ID.match(details["id"]) and int(details["id"]) < 2**63
    assert IST_TIME.match(details["Created_Time"])
    # the documented write result shows users as {name, id}; records show the email too
    assert details["Created_By"] == {"name": "Alpha Admin", "id": details["Created_By"]["id"]}
    assert details["Modified_By"] == details["Created_By"]


async def test_partial_failure_is_207_and_all_failed_is_400(alpha: Client) -> None:
    status, body, _ = await alpha.call(
        "POST", "/crm/v8/Leads", json={"data": [{"Last_Name": "ok"}, {"First_Name": "no"}]}
    )
    assert status == 207
    assert [e["status"] for e in body["data"]] == ["success", "error"]
    assert body["data"][1] == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Last_Name", "json_path": "$.data[1].Last_Name"},
        "message": "required field not found",
        "status": "error",
    }
    status, body, _ = await alpha.call("POST", "/crm/v8/Leads", json={"data": [{"Email": "x"}]})
    assert status == 400 and body["data"][0]["status"] == "error"


async def test_get_one_record_has_every_field_and_shapes(alpha: Client) -> None:
    (account,) = await alpha.insert("Accounts", {"Account_Name": "Zylker"})
    (contact,) = await alpha.insert(
        "Contacts", {"Last_Name": "Boyle", "First_Name": "Pat", "Account_Name": {"id": account}}
    )
    status, body, _ = await alpha.call("GET", f"/crm/v8/Contacts/{contact}")
    assert status == 200
    (record,) = body["data"]
    assert record["id"] == contact
    assert record["Account_Name"] == {"name": "Zylker", "id": account}
    assert record["Full_Name"] == "Pat Boyle"
    assert record["Owner"]["email"] == "admin@alpha.example"
    assert record["Email"] is None and "Mailing_City" in record


async def test_get_unknown_record_is_204_without_body(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads/1234567000000000001")
    assert (status, body) == (204, None)


async def test_list_requires_fields(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads")
    assert status == 400 and body["code"] == "REQUIRED_PARAM_MISSING"
    assert body["details"]["param_name"] == "fields"
    many = ",".join(f"F{i}" for i in range(51))
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads", params={"fields": many})
    assert (status, body["code"]) == (400, "LIMIT_EXCEEDED")


async def test_list_empty_module_is_204(alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/Deals", params={"fields": "Deal_Name"})
    assert (status, body) == (204, None)


async def test_list_shape_sort_and_ids(alpha: Client) -> None:
    ids = await alpha.insert("Leads", *({"Last_Name": f"L{i}"} for i in range(3)))
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads", params={"fields": "Last_Name"})
    assert status == 200
    assert [r["id"] for r in body["data"]] == ids[::-1]  # default id desc
    assert body["data"][0] == {"Last_Name": "L2", "id": ids[2]}
    assert body["info"] == {
        "call": False,
        "per_page": 200,
        "next_page_token": None,
        "count": 3,
        "sort_by": "id",
        "page": 1,
        "previous_page_token": None,
        "page_token_expiry": None,
        "sort_order": "desc",
        "email": False,
        "more_records": False,
    }
    _, body, _ = await alpha.call(
        "GET",
        "/crm/v8/Leads",
        params={"fields": "Last_Name", "sort_order": "asc", "ids": f"{ids[2]},{ids[0]}"},
    )
    assert [r["id"] for r in body["data"]] == [ids[0], ids[2]]
    status, body, _ = await alpha.call(
        "GET", "/crm/v8/Leads", params={"fields": "Last_Name", "sort_by": "Last_Name"}
    )
    assert (status, body["code"]) == (400, "INVALID_DATA")


async def test_page_and_page_token_pagination(alpha: Client) -> None:
    ids = await alpha.insert("Leads", *({"Last_Name": f"L{i}"} for i in range(5)))
    params = {"fields": "Last_Name", "per_page": "2", "sort_order": "asc"}
    _, page2, _ = await alpha.call("GET", "/crm/v8/Leads", params={**params, "page": "2"})
    assert [r["id"] for r in page2["data"]] == ids[2:4] and page2["info"]["more_records"]
    seen, token = [], None
    while True:
        query = {**params, **({"page_token": token} if token else {})}
        status, body, _ = await alpha.call("GET", "/crm/v8/Leads", params=query)
        assert status == 200
        seen += [r["id"] for r in body["data"]]
        token = body["info"]["next_page_token"]
        if not body["info"]["more_records"]:
            break
        assert IST_TIME.match(body["info"]["page_token_expiry"])
    assert seen == ids
    status, body, _ = await alpha.call(
        "GET", "/crm/v8/Leads", params={"fields": "Last_Name", "page": "11"}
    )
    assert (status, body["code"]) == (400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED")


async def test_page_token_errors(emu: Emulator, alpha: Client) -> None:
    await alpha.insert("Leads", *({"Last_Name": f"L{i}"} for i in range(3)))
    params = {"fields": "Last_Name", "per_page": "1"}
    _, body, _ = await alpha.call("GET", "/crm/v8/Leads", params=params)
    token = body["info"]["next_page_token"]
    cases = [
        ({**params, "page_token": token, "page": "2"}, "AMBIGUITY_DURING_PROCESSING"),
        ({**params, "fields": "Email", "page_token": token}, "TOKEN_BOUND_DATA_MISMATCH"),
        ({**params, "page_token": "nonsense"}, "INVALID_DATA"),
    ]
    for query, code in cases:
        status, err, _ = await alpha.call("GET", "/crm/v8/Leads", params=query)
        assert (status, err["code"]) == (400, code)
    emu.state.advance(86_401)
    alpha = await login(alpha.session, emu)
    status, err, _ = await alpha.call(
        "GET", "/crm/v8/Leads", params={**params, "page_token": token}
    )
    assert (status, err["code"]) == (400, "EXPIRED_VALUE")


async def test_if_modified_since(emu: Emulator, alpha: Client) -> None:
    (old,) = await alpha.insert("Leads", {"Last_Name": "old"})
    emu.state.advance(10)
    (new,) = await alpha.insert("Leads", {"Last_Name": "new"})
    _, got, _ = await alpha.call("GET", f"/crm/v8/Leads/{new}")
    since = got["data"][0]["Modified_Time"]
    status, body, _ = await alpha.call(
        "GET", "/crm/v8/Leads", params={"fields": "Last_Name"}, headers={"If-Modified-Since": since}
    )
    assert status == 200 and [r["id"] for r in body["data"]] == [new]  # inclusive boundary
    emu.state.advance(5)
    (_, later, _) = await alpha.call("GET", f"/crm/v8/Leads/{old}")
    status, body, _ = await alpha.call(
        "GET",
        "/crm/v8/Leads",
        params={"fields": "Last_Name"},
        headers={"If-Modified-Since": "2999-01-01T00:00:00+00:00"},
    )
    assert (status, body) == (304, None)


async def test_update_many_and_one(emu: Emulator, alpha: Client) -> None:
    (a, b) = await alpha.insert("Leads", {"Last_Name": "A"}, {"Last_Name": "B"})
    emu.state.advance(2)
    status, body, _ = await alpha.call(
        "PUT",
        "/crm/v8/Leads",
        json={
            "data": [
                {"id": a, "Company": "Zylker"},
                {"Company": "no id"},
                {"id": "1" * 19, "Company": "x"},
            ]
        },
    )
    assert status == 207
    ok, missing, unknown = body["data"]
    assert ok["message"] == "record updated" and ok["details"]["id"] == a
    assert ok["details"]["Modified_Time"] != ok["details"]["Created_Time"]
    assert (missing["code"], missing["details"]["api_name"]) == ("MANDATORY_NOT_FOUND", "id")
    assert (unknown["code"], unknown["message"]) == (
        "INVALID_DATA",
        "the id given seems to be invalid",
    )
    status, body, _ = await alpha.call(
        "PUT", f"/crm/v8/Leads/{b}", json={"data": [{"Last_Name": "B2"}]}
    )
    assert status == 200 and body["data"][0]["details"]["id"] == b
    _, got, _ = await alpha.call("GET", f"/crm/v8/Leads/{b}")
    assert got["data"][0]["Last_Name"] == "B2"


async def test_if_unmodified_since_gives_412(emu: Emulator, alpha: Client) -> None:
    (a,) = await alpha.insert("Leads", {"Last_Name": "A"})
    status, body, _ = await alpha.call(
        "PUT",
        "/crm/v8/Leads",
        json={"data": [{"id": a, "Company": "x"}]},
        headers={"If-Unmodified-Since": "2000-01-01T00:00:00+00:00"},
    )
    assert status == 412 and body["data"][0]["code"] == "ALREADY_MODIFIED"


async def test_delete_by_ids_and_by_path(alpha: Client) -> None:
    a, b, c = await alpha.insert("Leads", *({"Last_Name": n} for n in "ABC"))
    status, body, _ = await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": f"{a},{b}"})
    assert status == 200
    assert body["data"][0] == {
        "code": "SUCCESS",
        "details": {"id": a},
        "message": "record deleted",
        "status": "success",
    }
    status, body, _ = await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": f"{a},{c}"})
    assert status == 207 and body["data"][0]["code"] == "INVALID_DATA"
    assert (await alpha.call("GET", f"/crm/v8/Leads/{c}"))[0] == 204
    status, body, _ = await alpha.call("DELETE", "/crm/v8/Leads")
    assert (status, body["code"]) == (400, "REQUIRED_PARAM_MISSING")
    many = ",".join(str(10**18 + i) for i in range(101))
    status, body, _ = await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": many})
    assert (status, body["code"]) == (400, "LIMIT_EXCEEDED")


async def test_request_level_errors_are_bare_objects(alpha: Client) -> None:
    too_many = {"data": [{"Last_Name": str(i)} for i in range(101)]}
    cases = [
        ("POST", "/crm/v8/Leads", {"json": too_many}, 400, "LIMIT_EXCEEDED"),
        ("POST", "/crm/v8/Leads", {"data": b"{not json"}, 400, "INVALID_DATA"),
        ("POST", "/crm/v8/Leads", {"json": {"records": []}}, 400, "REQUIRED_PARAM_MISSING"),
        ("POST", "/crm/v8/Leads", {"json": {"data": []}}, 400, "INVALID_DATA"),
        ("POST", "/crm/v8/Nope", {"json": {"data": [{}]}}, 400, "INVALID_MODULE"),
        ("GET", "/crm/v8/Nope", {"params": {"fields": "a"}}, 400, "INVALID_MODULE"),
        ("PATCH", "/crm/v8/Leads", {"json": {"data": [{}]}}, 400, "INVALID_REQUEST_METHOD"),
        ("GET", "/crm/v8/Leads/1/x/y", {}, 404, "INVALID_URL_PATTERN"),
    ]
    for method, path, kw, status, code in cases:
        got, body, _ = await alpha.call(method, path, **kw)
        assert (got, body["code"], body["status"]) == (status, code, "error"), (path, body)
        assert "data" not in body
    _, body, _ = await alpha.call("GET", "/crm/v8/Nope", params={"fields": "a"})
    assert body["details"] == {"resource_path_index": 0}


async def test_versions_v2_and_v7_are_served(alpha: Client) -> None:
    (a,) = await alpha.insert("Leads", {"Last_Name": "A"})
    for version in ("v2", "v7"):
        status, body, _ = await alpha.call("GET", f"/crm/{version}/Leads/{a}")
        assert status == 200 and body["data"][0]["id"] == a


async def test_count(alpha: Client) -> None:
    await alpha.insert("Leads", {"Last_Name": "A"}, {"Last_Name": "B"})
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads/actions/count")
    assert (status, body) == (200, {"count": 2})
