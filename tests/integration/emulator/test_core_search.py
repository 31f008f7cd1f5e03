"""Search (criteria/email/phone/word) and deleted records."""

from __future__ import annotations

import aiohttp

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator


async def _seed(alpha: Client) -> list[str]:
    """Three leads, searchable: the clock moves past the search-index delay."""
    ids = await alpha.insert(
        "Leads",
        {"Last_Name": "Boyle", "Email": "p.boyle@z.com", "Company": "Zylker", "Phone": "555-1"},
        {"Last_Name": "Burns", "Email": "b@z.com", "Company": "Acme", "No_of_Employees": 50},
        {"Last_Name": "Smith", "Company": "Zylker Labs", "No_of_Employees": 5},
    )
    alpha.emu.state.advance(alpha.emu.config.behaviour.search_index_delay_ms / 1000 + 1)
    return ids


async def test_search_by_criteria(alpha: Client) -> None:
    boyle, burns, smith = await _seed(alpha)
    cases = [
        ("(Last_Name:equals:Boyle)", [boyle]),
        ("((Company:starts_with:Zylker)and(No_of_Employees:less_than:10))", [smith]),
        ("((Last_Name:equals:Burns)or(Last_Name:equals:Smith))", [burns, smith]),
        ("(Last_Name:in:Boyle,Smith)", [boyle, smith]),
        ("(No_of_Employees:between:10,100)", [burns]),
    ]
    for criteria, expected in cases:
        status, body, _ = await alpha.call(
            "GET", "/crm/v8/Leads/search", params={"criteria": criteria, "fields": "Last_Name"}
        )
        assert status == 200, (criteria, body)
        assert sorted(r["id"] for r in body["data"]) == sorted(expected), criteria
        assert body["info"] == {
            "per_page": 200,
            "count": len(expected),
            "page": 1,
            "more_records": False,
        }


async def test_search_by_email_phone_word_and_no_match(alpha: Client) -> None:
    boyle, burns, smith = await _seed(alpha)
    for params, expected in (
        ({"email": "B@Z.COM"}, [burns]),
        ({"phone": "555-1"}, [boyle]),
        ({"word": "labs"}, [smith]),
    ):
        status, body, _ = await alpha.call("GET", "/crm/v8/Leads/search", params=params)
        assert status == 200 and [r["id"] for r in body["data"]] == expected
    status, body, _ = await alpha.call(
        "GET", "/crm/v8/Leads/search", params={"email": "nobody@z.com"}
    )
    assert (status, body) == (204, None)


async def test_search_errors(alpha: Client) -> None:
    for params, code in (
        ({}, "EXPECTED_PARAM_MISSING"),
        ({"criteria": "(Last_Name:equals"}, "INVALID_QUERY"),
        ({"criteria": "(Nope:equals:x)"}, "INVALID_QUERY"),
        ({"criteria": "(Last_Name:like:x)"}, "INVALID_QUERY"),
        ({"email": "a@z.com", "page": "11"}, "LIMIT_REACHED"),
    ):
        status, body, _ = await alpha.call("GET", "/crm/v8/Leads/search", params=params)
        assert (status, body["code"]) == (400, code), params


async def test_deleted_records_listing(emu: Emulator, alpha: Client) -> None:
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads/deleted")
    assert (status, body) == (204, None)
    boyle, burns, _ = await _seed(alpha)
    await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": f"{boyle},{burns}"})
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads/deleted", params={"type": "all"})
    assert status == 200
    assert [e["id"] for e in body["data"]] == [burns, boyle]
    entry = body["data"][1]
    assert entry["display_name"] == "Boyle" and entry["type"] == "recycle"
    assert entry["deleted_by"] == {"name": "Alpha Admin", "id": entry["deleted_by"]["id"]}
    assert entry["deleted_time"].endswith("+05:30")
    assert body["info"] == {"per_page": 200, "count": 2, "page": 1, "more_records": False}
    _, after, _ = await alpha.call("GET", "/crm/v8/Leads/search", params={"word": "boyle"})
    assert after is None
    emu.state.advance(61 * 86_400)
    alpha = await login(alpha.session, emu)
    _, body, _ = await alpha.call("GET", "/crm/v8/Leads/deleted", params={"type": "permanent"})
    assert [e["type"] for e in body["data"]] == ["permanent", "permanent"]
    assert body["data"][0]["display_name"] is None
    status, body, _ = await alpha.call("GET", "/crm/v8/Leads/deleted", params={"type": "x"})
    assert (status, body["code"]) == (400, "PATTERN_NOT_MATCHED")


async def test_deleted_records_past_a_page_cap_are_refused_when_one_is_set(
    session: aiohttp.ClientSession,
) -> None:
    """Zoho documents no cap on /deleted; `deleted_page_limit` sets one (as records lists
    stop ``page`` at 2,000) and the page that would pass it is refused."""
    async with Emulator(make_config(behaviour={"deleted_page_limit": 2})) as emu:
        alpha = await login(session, emu)
        ids = await alpha.insert("Leads", *({"Last_Name": f"L{n}"} for n in range(3)))
        await alpha.call("DELETE", "/crm/v8/Leads", params={"ids": ",".join(ids)})
        deleted = "/crm/v8/Leads/deleted"
        status, body, _ = await alpha.call("GET", deleted, params={"per_page": "2"})
        assert status == 200 and body["info"]["more_records"] is True
        status, body, _ = await alpha.call("GET", deleted, params={"per_page": "2", "page": "2"})
        assert (status, body["code"]) == (400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED")
        assert body["details"]["param"] == "page"
