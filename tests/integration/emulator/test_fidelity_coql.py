"""Issue 15 item 4: POST /crm/v8/coql, the documented subset, its limits and error shapes
(crm-oas v8.0 coql.json and its examples; the COQL overview and limitations pages)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.emulator import Client
from zoho_emulator import Emulator


async def _coql(client: Client, query: str) -> tuple[int, Any]:
    status, body, _ = await client.call("POST", "/crm/v8/coql", json={"select_query": query})
    return status, body


async def _seed(alpha: Client) -> list[str]:
    return await alpha.insert(
        "Leads",
        {
            "Last_Name": "Boyle",
            "Email": "p.boyle@z.com",
            "Company": "Zylker",
            "No_of_Employees": 50,
        },
        {"Last_Name": "Burns", "Email": "b@z.com", "Company": "Acme", "No_of_Employees": 5},
        {"Last_Name": "Smith", "Company": "Zylker Labs", "No_of_Employees": 500},
    )


async def test_select_where_order_limit(alpha: Client) -> None:
    boyle, burns, smith = await _seed(alpha)  # no index delay: COQL sees writes at once
    status, body = await _coql(
        alpha,
        "select Last_Name, Owner from Leads "
        "where (Company like 'zylker%' and No_of_Employees >= 50) "
        "order by No_of_Employees desc limit 0, 10",
    )
    assert status == 200
    assert [r["id"] for r in body["data"]] == [smith, boyle]
    assert body["info"] == {"count": 2, "more_records": False}
    row = body["data"][0]
    assert list(row) == ["Last_Name", "Owner", "id"]
    assert row["Last_Name"] == "Smith" and set(row["Owner"]) == {"name", "id"}


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ("Last_Name = 'burns'", ["Burns"]),
        ("Last_Name != 'Burns'", ["Boyle", "Smith"]),
        ("No_of_Employees < 50", ["Burns"]),
        ("No_of_Employees > 5", ["Boyle", "Smith"]),
        ("No_of_Employees <= 50", ["Boyle", "Burns"]),
        ("Last_Name in ('Boyle', 'Smith')", ["Boyle", "Smith"]),
        ("Last_Name not in ('Boyle', 'Smith')", ["Burns"]),
        ("Email is null", ["Smith"]),
        ("Email is not null", ["Boyle", "Burns"]),
        ("Last_Name like '%u%'", ["Burns"]),
        ("(Last_Name = 'Boyle' or Last_Name = 'Burns') and No_of_Employees > 10", ["Boyle"]),
        ("Created_Time >= '2000-01-01T00:00:00+00:00'", ["Boyle", "Burns", "Smith"]),
    ],
)
async def test_operators(alpha: Client, where: str, names: list[str]) -> None:
    await _seed(alpha)
    status, body = await _coql(alpha, f"select Last_Name from Leads where {where}")
    assert status == 200, body
    assert sorted(r["Last_Name"] for r in body["data"]) == names


async def test_default_order_is_id_and_paging_reports_more(alpha: Client) -> None:
    ids = await alpha.insert("Leads", *({"Last_Name": f"L{i}"} for i in range(5)))
    status, body = await _coql(alpha, "select Last_Name from Leads limit 2 offset 1")
    assert status == 200
    assert [r["id"] for r in body["data"]] == sorted(ids)[1:3]
    assert body["info"] == {"count": 2, "more_records": True}
    status, body = await _coql(alpha, "select Last_Name from Leads limit 4, 2")
    assert [r["id"] for r in body["data"]] == sorted(ids)[4:]
    assert body["info"]["more_records"] is False


async def test_no_rows_is_204(alpha: Client) -> None:
    assert await _coql(alpha, "select Last_Name from Leads where Last_Name = 'x'") == (204, None)


def _error(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("select Last_Name Leads", _error("SYNTAX_ERROR", "missing clause", {"clause": "from"})),
        (
            "select Last_Name from Leads where",
            _error("SYNTAX_ERROR", "error occured while parsing the query", {"near": "where"}),
        ),
        (
            "select Last_Name from Leads where Last_Name = 'a' and Email = 'b' and Company = 'c'",
            _error("SYNTAX_ERROR", "error occured while parsing the query", {"near": "and"}),
        ),
        (
            "select Nope from Leads",
            _error("INVALID_QUERY", "column given seems to be invalid", {"column_name": "Nope"}),
        ),
        (
            "select Last_Name from Leads where Last_Name > 'a'",
            _error(
                "INVALID_QUERY",
                "Invalid query formed",
                {"reason": "invalid operator found", "column_name": "Last_Name", "operator": ">"},
            ),
        ),
        (
            "select Last_Name from Leads limit s",
            _error("INVALID_QUERY", "limit given seems to be invalid", {"limit": "s"}),
        ),
        (
            "select Last_Name from Leads limit 0",
            _error("INVALID_DATA", "limit should be greater than 0", {}),
        ),
        (
            "select Last_Name from Nowhere",
            _error("INVALID_MODULE", "the given module is not supported in api", {}),
        ),
        (
            "select Last_Name, last_name from Leads",
            _error("DUPLICATE_DATA", "duplicate select column", {}),
        ),
    ],
)
async def test_errors(alpha: Client, query: str, expected: dict[str, Any]) -> None:
    assert await _coql(alpha, query) == (400, expected)


@pytest.mark.parametrize(
    "query",
    [
        "select Last_Name from Leads limit 2001",
        "select Last_Name from Leads limit 99999, 2000",
        "select Last_Name from Leads where Last_Name in ({})".format(
            ", ".join(f"'{i}'" for i in range(101))
        ),
    ],
)
async def test_limits(alpha: Client, query: str) -> None:
    status, body = await _coql(alpha, query)
    assert (status, body["code"], body["status"]) == (400, "LIMIT_EXCEEDED", "error")


async def test_missing_select_query_and_versions(emu: Emulator, alpha: Client) -> None:
    status, body, _ = await alpha.call("POST", "/crm/v8/coql", json={})
    assert (status, body) == (
        400,
        _error("MANDATORY_NOT_FOUND", "mandatory key not found", {"api_name": "select_query"}),
    )
    (lead,) = await alpha.insert("Leads", {"Last_Name": "V"})
    status, body, _ = await alpha.call(
        "POST", "/crm/v7/coql", json={"select_query": "select Last_Name from Leads"}
    )
    assert status == 200 and body["data"] == [{"Last_Name": "V", "id": lead}]
